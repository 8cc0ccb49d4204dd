#include "http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ptserve::bench {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;

bool ParseInt(absl::string_view s, int64_t* out) {
  s = absl::StripAsciiWhitespace(s);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Finds `"key"` followed by optional spaces, ':' and an integer in `body`; -1 when absent.
int64_t ScanJsonInt(absl::string_view body, absl::string_view quoted_key) {
  size_t pos = body.find(quoted_key);
  if (pos == absl::string_view::npos) return -1;
  pos += quoted_key.size();
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == ':' || body[pos] == '\t')) ++pos;
  int64_t v = -1;
  auto [ptr, ec] = std::from_chars(body.data() + pos, body.data() + body.size(), v);
  return ec == std::errc() ? v : -1;
}

bool ContainsIgnoreCase(absl::string_view haystack, absl::string_view needle) {
  return absl::AsciiStrToLower(haystack).find(absl::AsciiStrToLower(needle)) != std::string::npos;
}

std::string Errno(absl::string_view what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

}  // namespace

absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view url) {
  absl::string_view rest = url;
  if (absl::StartsWith(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != absl::string_view::npos) {
    return absl::UnimplementedError(
        absl::StrCat("URL scheme of '", url, "' is not supported yet (only http://)"));
  }
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) rest = rest.substr(0, slash);
  Endpoint ep;
  absl::string_view host = rest;
  absl::string_view port = "80";
  if (absl::StartsWith(rest, "[")) {  // [v6]:port
    size_t close = rest.find(']');
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("bad IPv6 URL");
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (size_t colon = rest.rfind(':'); colon != absl::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) host = "localhost";
  int port_num = 0;
  if (!absl::SimpleAtoi(port, &port_num) || port_num <= 0 || port_num > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in URL '", url, "'"));
  }
  ep.host = std::string(host);
  ep.port = port_num;
  ep.host_header = absl::StrCat(rest);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port_str = std::to_string(port_num);
  if (int rc = getaddrinfo(ep.host.c_str(), port_str.c_str(), &hints, &res); rc != 0 || !res) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve '", ep.host, "': ", gai_strerror(rc)));
  }
  std::memcpy(&ep.addr, res->ai_addr, res->ai_addrlen);
  ep.addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  return ep;
}

std::string SerializeRequest(absl::string_view method, absl::string_view path, const Endpoint& ep,
                             absl::string_view content_type,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             absl::string_view body) {
  std::string out = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: ", ep.host_header, "\r\n");
  if (!content_type.empty()) absl::StrAppend(&out, "Content-Type: ", content_type, "\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\n");
  }
  for (const auto& [name, value] : headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  absl::StrAppend(&out, "\r\n", body);
  return out;
}

// ---------------------------------------------------------------------------------------------
// ResponseParser

void ResponseParser::Reset() {
  headers_done_ = false;
  scan_from_ = 0;
  header_len_ = 0;
  content_length_ = -1;
  chunked_ = false;
  info_ = ResponseInfo();
  chunked_body_.clear();
}

ResponseParser::Result ResponseParser::ParseHeaders(const char* data, size_t size) {
  absl::string_view buf(data, size);
  size_t start = scan_from_ >= 3 ? scan_from_ - 3 : 0;
  size_t end = buf.find("\r\n\r\n", start);
  if (end == absl::string_view::npos) {
    scan_from_ = size;
    if (size > kMaxHeaderBytes) {
      error_ = "response headers larger than 64 KiB";
      return Result::kError;
    }
    return Result::kNeedMore;
  }
  header_len_ = end + 4;
  absl::string_view head = buf.substr(0, end);
  size_t eol = head.find("\r\n");
  absl::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 200 OK"
  if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
      status_line[8] != ' ') {
    error_ = absl::StrCat("bad status line '", status_line.substr(0, 64), "'");
    return Result::kError;
  }
  const bool http10 = status_line[7] == '0';
  int64_t status = 0;
  if (!ParseInt(status_line.substr(9, 3), &status) || status < 100 || status > 999) {
    error_ = absl::StrCat("bad status code in '", status_line.substr(0, 64), "'");
    return Result::kError;
  }
  info_.status = static_cast<int>(status);
  info_.keep_alive = !http10;
  absl::string_view rest = eol == absl::string_view::npos ? absl::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    size_t line_end = rest.find("\r\n");
    absl::string_view line = rest.substr(0, line_end);
    rest = line_end == absl::string_view::npos ? absl::string_view() : rest.substr(line_end + 2);
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    absl::string_view name = line.substr(0, colon);
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      if (!ParseInt(value, &content_length_) || content_length_ < 0) {
        error_ = absl::StrCat("bad Content-Length '", value, "'");
        return Result::kError;
      }
    } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      chunked_ = ContainsIgnoreCase(value, "chunked");
    } else if (absl::EqualsIgnoreCase(name, "connection")) {
      if (ContainsIgnoreCase(value, "close")) info_.keep_alive = false;
      if (ContainsIgnoreCase(value, "keep-alive")) info_.keep_alive = true;
    } else if (name.size() > 2 && (name[0] == 'x' || name[0] == 'X')) {
      int64_t v;
      if (absl::EqualsIgnoreCase(name, "x-queue-time-us") && ParseInt(value, &v)) {
        info_.queue_time_us = v;
      } else if (absl::EqualsIgnoreCase(name, "x-compute-time-us") && ParseInt(value, &v)) {
        info_.compute_time_us = v;
      } else if (absl::EqualsIgnoreCase(name, "x-batch-size") && ParseInt(value, &v)) {
        info_.batch_size = v;
      }
    }
  }
  if (info_.status < 200 || info_.status == 204 || info_.status == 304) {
    content_length_ = 0;
    chunked_ = false;
  }
  headers_done_ = true;
  return Result::kComplete;
}

ResponseParser::Result ResponseParser::ParseChunked(const char* data, size_t size, size_t* end) {
  absl::string_view buf(data, size);
  chunked_body_.clear();
  size_t pos = header_len_;
  for (;;) {
    size_t eol = buf.find("\r\n", pos);
    if (eol == absl::string_view::npos) return Result::kNeedMore;
    absl::string_view size_line = buf.substr(pos, eol - pos);
    if (size_t semi = size_line.find(';'); semi != absl::string_view::npos) {
      size_line = size_line.substr(0, semi);
    }
    size_line = absl::StripAsciiWhitespace(size_line);
    uint64_t chunk = 0;
    auto [ptr, ec] = std::from_chars(size_line.data(), size_line.data() + size_line.size(), chunk, 16);
    if (ec != std::errc() || ptr != size_line.data() + size_line.size() || size_line.empty()) {
      error_ = "bad chunk size line";
      return Result::kError;
    }
    pos = eol + 2;
    if (chunk == 0) {
      // Optional trailers, then an empty line.
      if (buf.size() >= pos + 2 && buf.substr(pos, 2) == "\r\n") {
        *end = pos + 2;
        return Result::kComplete;
      }
      size_t trailers_end = buf.find("\r\n\r\n", pos);
      if (trailers_end == absl::string_view::npos) return Result::kNeedMore;
      *end = trailers_end + 4;
      return Result::kComplete;
    }
    if (buf.size() < pos + chunk + 2) return Result::kNeedMore;
    chunked_body_.append(buf.data() + pos, chunk);
    if (buf.substr(pos + chunk, 2) != "\r\n") {
      error_ = "chunk not followed by CRLF";
      return Result::kError;
    }
    pos += chunk + 2;
  }
}

void ResponseParser::Finish(const char* data, ResponseInfo* out) {
  if (scan_body_ && !info_.body.empty() &&
      (info_.queue_time_us < 0 || info_.compute_time_us < 0 || info_.batch_size < 0)) {
    if (info_.queue_time_us < 0) info_.queue_time_us = ScanJsonInt(info_.body, "\"queue_time_us\"");
    if (info_.compute_time_us < 0) {
      info_.compute_time_us = ScanJsonInt(info_.body, "\"compute_time_us\"");
    }
    if (info_.batch_size < 0) info_.batch_size = ScanJsonInt(info_.body, "\"batch_size\"");
  }
  *out = info_;
  // The parser state is reset but chunked_body_ must outlive this call (out->body may point at
  // it), so keep it until the next Parse() starts.
  headers_done_ = false;
  scan_from_ = 0;
  header_len_ = 0;
  content_length_ = -1;
  chunked_ = false;
  info_ = ResponseInfo();
}

ResponseParser::Result ResponseParser::Parse(const char* data, size_t size, ResponseInfo* out,
                                             size_t* consumed) {
  if (!headers_done_) {
    Result r = ParseHeaders(data, size);
    if (r != Result::kComplete) return r;
  }
  if (chunked_) {
    size_t end = 0;
    Result r = ParseChunked(data, size, &end);
    if (r != Result::kComplete) return r;
    info_.body = chunked_body_;
    *consumed = end;
    Finish(data, out);
    return Result::kComplete;
  }
  if (content_length_ < 0) return Result::kNeedMore;  // framed by close
  const size_t total = header_len_ + static_cast<size_t>(content_length_);
  if (size < total) return Result::kNeedMore;
  info_.body = absl::string_view(data + header_len_, content_length_);
  *consumed = total;
  Finish(data, out);
  return Result::kComplete;
}

ResponseParser::Result ResponseParser::ParseAtEof(const char* data, size_t size,
                                                  ResponseInfo* out, size_t* consumed) {
  if (!headers_done_) {
    Result r = ParseHeaders(data, size);
    if (r == Result::kError) return r;
    if (r == Result::kNeedMore) {
      error_ = "connection closed before the response headers ended";
      return Result::kError;
    }
  }
  if (chunked_ || content_length_ >= 0) {
    Result r = Parse(data, size, out, consumed);
    if (r == Result::kNeedMore) {
      error_ = "connection closed before the response body ended";
      return Result::kError;
    }
    return r;
  }
  info_.body = absl::string_view(data + header_len_, size - header_len_);
  info_.keep_alive = false;
  *consumed = size;
  Finish(data, out);
  return Result::kComplete;
}

// ---------------------------------------------------------------------------------------------
// Connection

Connection::Io Connection::Connect() {
  Close();
  fd_ = socket(endpoint_->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = Errno("socket");
    return Io::kError;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&endpoint_->addr), endpoint_->addr_len) ==
      0) {
    connected_ = true;
    return Io::kDone;
  }
  if (errno == EINPROGRESS) return Io::kAgain;
  error_ = Errno("connect");
  return Io::kError;
}

Connection::Io Connection::FinishConnect() {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    error_ = absl::StrCat("connect: ", std::strerror(err));
    return Io::kError;
  }
  connected_ = true;
  return Io::kDone;
}

Connection::Io Connection::Send(const std::string* request) {
  request_ = request;
  sent_ = 0;
  return ContinueSend();
}

Connection::Io Connection::ContinueSend() {
  while (request_ != nullptr) {
    ssize_t n = send(fd_, request_->data() + sent_, request_->size() - sent_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<size_t>(n);
      if (sent_ == request_->size()) request_ = nullptr;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::kAgain;
    error_ = Errno("send");
    request_ = nullptr;
    return (errno == EPIPE || errno == ECONNRESET) ? Io::kClosed : Io::kError;
  }
  return Io::kDone;
}

Connection::Io Connection::Receive() {
  for (;;) {
    if (len_ == buf_.size()) buf_.resize(buf_.size() * 2);
    ssize_t n = recv(fd_, buf_.data() + len_, buf_.size() - len_, 0);
    if (n > 0) {
      len_ += static_cast<size_t>(n);
      switch (parser_.Parse(buf_.data(), len_, &response_, &consumed_)) {
        case ResponseParser::Result::kComplete:
          return Io::kDone;
        case ResponseParser::Result::kNeedMore:
          // A full buffer may hold more data in the kernel; read again, else wait.
          if (len_ == buf_.size()) continue;
          return Io::kAgain;
        case ResponseParser::Result::kError:
          error_ = parser_.error();
          return Io::kError;
      }
    }
    if (n == 0) {
      if (len_ == 0) {
        error_ = "connection closed by peer";
        return Io::kClosed;
      }
      if (parser_.ParseAtEof(buf_.data(), len_, &response_, &consumed_) ==
          ResponseParser::Result::kComplete) {
        return Io::kDone;
      }
      error_ = parser_.error();
      return Io::kError;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::kAgain;
    error_ = Errno("recv");
    return errno == ECONNRESET ? Io::kClosed : Io::kError;
  }
}

void Connection::ConsumeResponse() {
  if (consumed_ < len_) std::memmove(buf_.data(), buf_.data() + consumed_, len_ - consumed_);
  len_ -= consumed_;
  consumed_ = 0;
  response_ = ResponseInfo();
}

void Connection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  connected_ = false;
  request_ = nullptr;
  sent_ = 0;
  len_ = 0;
  consumed_ = 0;
  parser_.Reset();
  response_ = ResponseInfo();
}

absl::StatusOr<FetchResult> Fetch(const Endpoint& endpoint, absl::string_view method,
                                  absl::string_view path, absl::string_view content_type,
                                  absl::string_view body, int timeout_ms,
                                  const std::vector<std::pair<std::string, std::string>>& headers) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Connection conn(&endpoint);
  auto poll_for = [&](int fd, short events) -> absl::Status {
    for (;;) {
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0) {
        return absl::DeadlineExceededError(
            absl::StrCat(method, " ", path, " on ", endpoint.host_header, " timed out"));
      }
      pollfd p{fd, events, 0};
      int rc = poll(&p, 1, left);
      if (rc > 0) return absl::OkStatus();
      if (rc < 0 && errno != EINTR) return absl::InternalError(Errno("poll"));
    }
  };
  auto fail = [&](absl::string_view what) {
    return absl::UnavailableError(absl::StrCat(method, " http://", endpoint.host_header, path,
                                               ": ", what, ": ", conn.error()));
  };
  Connection::Io io = conn.Connect();
  if (io == Connection::Io::kAgain) {
    if (auto s = poll_for(conn.fd(), POLLOUT); !s.ok()) return s;
    io = conn.FinishConnect();
  }
  if (io != Connection::Io::kDone) return fail("connect failed");
  const std::string request = SerializeRequest(method, path, endpoint, content_type, headers, body);
  io = conn.Send(&request);
  while (io == Connection::Io::kAgain) {
    if (auto s = poll_for(conn.fd(), POLLOUT); !s.ok()) return s;
    io = conn.ContinueSend();
  }
  if (io != Connection::Io::kDone) return fail("send failed");
  for (;;) {
    io = conn.Receive();
    if (io == Connection::Io::kDone) break;
    if (io != Connection::Io::kAgain) return fail("bad response");
    if (auto s = poll_for(conn.fd(), POLLIN); !s.ok()) return s;
  }
  FetchResult result;
  result.status = conn.response().status;
  result.body = std::string(conn.response().body);
  return result;
}

}  // namespace ptserve::bench
