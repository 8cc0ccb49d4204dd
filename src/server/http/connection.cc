#include "server/http/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/http/tls_context.h"

namespace ptserve::http::internal {
namespace {

namespace beast = boost::beast;
using boost::system::error_code;

// A chunk-size line holds at most this much besides its extensions (hex digits, CRLF).
constexpr size_t kChunkSizeLineSlack = 64;
constexpr size_t kReadChunk = 8 * 1024;            // read size while parsing headers
constexpr size_t kMaxReadChunk = 1 << 20;          // largest read while receiving a big body
constexpr size_t kKeepBufferCapacity = 64 * 1024;  // shrink the read buffer above this
// After a response that closes the connection, input is drained (so the kernel does not answer
// the client's unread data with a RST that could destroy our response) for at most this long
// and this many bytes.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kMaxLingerBytes = 4 << 20;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// A body that is never written to and has no control block: sharing it costs no atomics.
const std::shared_ptr<const std::string>& EmptyBody() {
  static const std::string* const kEmpty = new std::string();
  static const std::shared_ptr<const std::string> kShared(std::shared_ptr<void>(), kEmpty);
  return kShared;
}

// The Date header value, formatted once per second per thread.
std::string_view HttpDate() {
  thread_local std::time_t cached_second = -1;
  thread_local char buffer[64];
  thread_local size_t length = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm;
    gmtime_r(&now, &tm);
    length = std::strftime(buffer, sizeof(buffer), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return std::string_view(buffer, length);
}

bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool ValidHeaderName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), IsTokenChar);
}

bool ValidHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void AppendNumber(uint64_t value, std::string* out) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out->append(digits, end);
}

// No body (and no Content-Length) for these statuses (RFC 9110 §6.4.1, §8.6).
bool StatusHasBody(int status) { return status >= 200 && status != 204 && status != 304; }

// Status line and header block of `response` into `out` (cleared first).
void SerializeHead(const HttpResponse& response, bool close, int request_version,
                   std::string* out) {
  out->clear();
  const int status = response.status;
  out->append("HTTP/1.1 ");
  AppendNumber(static_cast<uint64_t>(status), out);
  out->push_back(' ');
  const beast::string_view reason =
      beast::http::obsolete_reason(static_cast<beast::http::status>(status));
  if (reason != "<unknown-status>") out->append(reason.data(), reason.size());
  out->append("\r\nServer: ptserve\r\nDate: ");
  out->append(HttpDate());
  out->append("\r\n");
  if (!response.content_type.empty() && ValidHeaderValue(response.content_type)) {
    out->append("Content-Type: ");
    out->append(response.content_type);
    out->append("\r\n");
  }
  if (StatusHasBody(status)) {
    out->append("Content-Length: ");
    AppendNumber(response.body.size(), out);
    out->append("\r\n");
  }
  for (const auto& [name, value] : response.headers) {
    if (!ValidHeaderName(name) || !ValidHeaderValue(value)) continue;
    out->append(name);
    out->append(": ");
    out->append(value);
    out->append("\r\n");
  }
  if (close) {
    out->append("Connection: close\r\n");
  } else if (request_version == 10) {
    out->append("Connection: keep-alive\r\n");
  }
  out->append("\r\n");
}

}  // namespace

void SplitTarget(HttpRequest& request) {
  std::string_view target = request.target;
  if (!target.empty() && target[0] != '/') {
    const size_t scheme_end = target.find("://");
    if (scheme_end != std::string_view::npos) {
      const size_t path_start = target.find_first_of("/?", scheme_end + 3);
      target =
          path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
    }
  }
  const size_t question = target.find('?');
  if (question == std::string_view::npos) {
    request.path.assign(target);
  } else {
    request.path.assign(target.substr(0, question));
    request.query.assign(target.substr(question + 1));
  }
  if (request.path.empty()) request.path = "/";
}

namespace {

// The Responder a handler gets: forwards to its Connection, tagged with the request's number.
class ConnectionResponder final : public Responder {
 public:
  ConnectionResponder(std::shared_ptr<Connection> connection, uint64_t seq)
      : connection_(std::move(connection)), seq_(seq) {}

  ~ConnectionResponder() override {
    if (!sent_.exchange(true, std::memory_order_acq_rel)) {
      connection_->PostResponse(seq_, ErrorResponse(500, "internal error: no response"));
    }
  }

  void Send(HttpResponse response) override {
    if (sent_.exchange(true, std::memory_order_acq_rel)) return;
    connection_->PostResponse(seq_, std::move(response));
  }

  bool disconnected() const override { return connection_->disconnected(); }

  void OnDisconnect(std::function<void()> callback) override {
    connection_->PostDisconnectCallback(seq_, std::move(callback));
  }

 private:
  const std::shared_ptr<Connection> connection_;
  const uint64_t seq_;
  std::atomic<bool> sent_{false};
};

// The error put() returns when one of our own limits failed (RequestParser::failure says which).
beast::error_code LimitError() {
  return boost::system::errc::make_error_code(boost::system::errc::operation_canceled);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Limits

std::optional<Rejection> ChunkedPendingProblem(std::string_view pending,
                                               size_t max_chunk_extension_bytes,
                                               size_t max_trailer_bytes) {
  // The CRLF that ends the previous chunk's data is parsed with the next chunk-size line.
  if (pending.substr(0, 2) == "\r\n") pending.remove_prefix(2);
  const size_t line_limit = max_chunk_extension_bytes + kChunkSizeLineSlack;
  const size_t eol = pending.find("\r\n");
  if (eol == std::string_view::npos) {
    if (pending.size() > line_limit) return Rejection::kChunkExtensionTooLarge;
    return std::nullopt;
  }
  if (eol > line_limit) return Rejection::kChunkExtensionTooLarge;
  // A complete chunk-size line the parser did not take is the last chunk's: it waits for the
  // end of the trailer section.
  if (pending.size() - (eol + 2) > max_trailer_bytes) return Rejection::kTrailerTooLarge;
  return std::nullopt;
}

HttpResponse RejectionResponse(Rejection rejection, const HttpServer::Options& options,
                               std::string_view detail) {
  HttpResponse response;
  switch (rejection) {
    case Rejection::kConnectionLimit:
      response = ErrorResponse(503, "too many connections");
      response.headers.emplace_back("Retry-After", "1");
      break;
    case Rejection::kMemoryBudget:
      response = ErrorResponse(
          503, absl::StrCat("the server is over its memory budget for request bodies (",
                            options.memory_budget ? options.memory_budget->limit() : 0,
                            " bytes, --max-inflight-bytes); retry later"));
      response.headers.emplace_back("Retry-After", "1");
      break;
    case Rejection::kHeaderTooLarge:
      response = ErrorResponse(
          431, absl::StrCat("request header exceeds ", options.max_header_bytes, " bytes"));
      break;
    case Rejection::kChunkExtensionTooLarge:
      response = ErrorResponse(400, absl::StrCat("chunk extensions exceed ",
                                                 options.max_chunk_extension_bytes, " bytes"));
      break;
    case Rejection::kTrailerTooLarge:
      response = ErrorResponse(
          431, absl::StrCat("trailer fields exceed ", options.max_trailer_bytes, " bytes"));
      break;
    case Rejection::kBodyTooLarge:
      response = ErrorResponse(413, absl::StrCat("request body exceeds the limit of ",
                                                 options.max_body_bytes, " bytes"));
      break;
    case Rejection::kMalformed:
      response = ErrorResponse(400, absl::StrCat("malformed HTTP request: ",
                                                 absl::string_view(detail.data(), detail.size())));
      break;
    case Rejection::kHeaderTimeout:
      response = ErrorResponse(408, absl::StrCat("request header not received within ",
                                                 options.header_timeout.count(), " s"));
      break;
    case Rejection::kBodyTimeout:
      response = ErrorResponse(
          408, absl::StrCat("request body not received in time (within ",
                            options.body_timeout.count(), " s, at least ",
                            options.min_body_bytes_per_sec, " bytes/s)"));
      break;
    case Rejection::kTlsHandshake:
      response = ErrorResponse(400, "this port speaks HTTPS (TLS): use https://");
      break;
  }
  return response;
}

// ---------------------------------------------------------------------------------------------
// RequestParser

RequestParser::RequestParser(HttpRequest* request, std::string* body, const ParserLimits& limits)
    : request_(request), body_(body), limits_(limits) {
  header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(limits.header_bytes, std::numeric_limits<std::uint32_t>::max())));
  this->body_limit(limits.body_bytes);
  eager(true);  // parse header and body in one put() when both are buffered
}

void RequestParser::Fail(Rejection why, error_code& ec, std::string_view detail) {
  failure_ = why;
  failure_detail_ = detail;
  ec = LimitError();
}

void RequestParser::on_request_impl(beast::http::verb /*method*/, string_view method_str,
                                    string_view target, int version, error_code& /*ec*/) {
  request_->method.assign(method_str.data(), method_str.size());
  request_->target.assign(target.data(), target.size());
  request_->version = version;
}

void RequestParser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = beast::http::error::bad_method;  // unreachable: this is a request parser
}

void RequestParser::on_field_impl(beast::http::field name, string_view name_string,
                                  string_view value, error_code& ec) {
  if (in_trailers_) {
    // Never merged into the header fields: a trailer must not override what the header said.
    trailer_bytes_ += name_string.size() + value.size() + 4;
    if (trailer_bytes_ > limits_.trailer_bytes) Fail(Rejection::kTrailerTooLarge, ec);
    return;
  }
  std::string key(name_string.data(), name_string.size());
  absl::AsciiStrToLower(&key);
  auto [it, inserted] = request_->headers.try_emplace(std::move(key));
  if (inserted) {
    it->second.assign(value.data(), value.size());
  } else {
    it->second.append(", ");
    it->second.append(value.data(), value.size());
  }
  if (name == beast::http::field::expect && beast::iequals(value, "100-continue")) {
    expect_continue_ = true;
  }
  if (name == beast::http::field::transfer_encoding) transfer_encoding_ = true;
}

void RequestParser::on_header_impl(error_code& ec) {
  // RFC 9112 §6.3: a request whose Transfer-Encoding does not end in chunked has no knowable
  // length; Beast would read it as bodiless and parse its body as the next request (smuggling).
  if (transfer_encoding_ && !chunked()) {
    Fail(Rejection::kMalformed, ec, "Transfer-Encoding must end with chunked");
    return;
  }
  // The body is reserved as soon as its size is known, before any of it arrives (and before
  // a 100 Continue invites it). Beast has already checked it against the body limit.
  const boost::optional<std::uint64_t> length = content_length();
  if (length && *length > 0 && limits_.reservation != nullptr &&
      !limits_.reservation->Grow(*length)) {
    Fail(Rejection::kMemoryBudget, ec);
  }
}

void RequestParser::on_body_init_impl(boost::optional<std::uint64_t> const& content_length,
                                      error_code& /*ec*/) {
  // Chunked bodies are reserved chunk by chunk (on_chunk_header_impl).
  if (content_length) body_->reserve(static_cast<size_t>(*content_length));
}

void RequestParser::on_chunk_header_impl(std::uint64_t size, string_view extensions,
                                         error_code& ec) {
  extension_bytes_ += extensions.size();
  if (extension_bytes_ > limits_.chunk_extension_bytes) {
    Fail(Rejection::kChunkExtensionTooLarge, ec);
    return;
  }
  if (size == 0) {
    in_trailers_ = true;
    return;
  }
  // Beast has already checked the chunk against what is left of the body limit.
  if (limits_.reservation != nullptr && !limits_.reservation->Grow(size)) {
    Fail(Rejection::kMemoryBudget, ec);
  }
}

std::size_t RequestParser::on_body_impl(string_view body, error_code& /*ec*/) {
  body_->append(body.data(), body.size());
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t /*remain*/, string_view body,
                                              error_code& /*ec*/) {
  body_->append(body.data(), body.size());
  return body.size();
}

// ---------------------------------------------------------------------------------------------
// ServerCore

ServerCore::ServerCore(const HttpServer::Options& options, std::shared_ptr<const Router> router)
    : options(options), router(std::move(router)) {
  for (int i = 0; i < options.threads; ++i) {
    // Concurrency hint 1: each io_context is run by exactly one thread.
    contexts.push_back(std::make_unique<net::io_context>(1));
    work_guards.push_back(net::make_work_guard(contexts.back()->get_executor()));
  }
}

ServerCore::~ServerCore() {
  // Asio objects must go before their io_context.
  accept_retry_timer.reset();
  pending_socket.reset();
  acceptor.reset();
  work_guards.clear();
}

void ServerCore::StopPosting() {
  WriterMutexLock lock(post_mu_);
  posting_stopped_ = true;
}

bool ServerCore::Register(Connection* connection) {
  MutexLock lock(mu_);
  if (shutting_down_.load(std::memory_order_relaxed)) return false;
  connections_.insert(connection);
  open_connections.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ServerCore::Unregister(Connection* connection) {
  MutexLock lock(mu_);
  if (connections_.erase(connection) > 0) {
    open_connections.fetch_sub(1, std::memory_order_relaxed);
  }
  lingering_.erase(connection);
  if (OnlyLingering()) no_connections_cv_.NotifyAll();
}

void ServerCore::MarkLingering(Connection* connection) {
  MutexLock lock(mu_);
  if (connections_.contains(connection)) lingering_.insert(connection);
  if (OnlyLingering()) no_connections_cv_.NotifyAll();
}

std::vector<std::shared_ptr<Connection>> ServerCore::Snapshot() {
  std::vector<std::shared_ptr<Connection>> result;
  MutexLock lock(mu_);
  result.reserve(connections_.size());
  for (Connection* connection : connections_) {
    // A connection being destroyed waits on mu_ in Unregister; lock() then yields null.
    if (auto shared = connection->weak_from_this().lock()) result.push_back(std::move(shared));
  }
  return result;
}

void ServerCore::BeginShutdown() {
  MutexLock lock(mu_);
  shutting_down_.store(true, std::memory_order_release);
}

bool ServerCore::WaitForNoConnections(std::chrono::steady_clock::time_point deadline) {
  MutexLock lock(mu_);
  while (!OnlyLingering()) {
    if (!no_connections_cv_.WaitUntil(mu_, deadline)) return OnlyLingering();
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Connection

Connection::Connection(std::shared_ptr<ServerCore> core, Socket socket)
    : core_(std::move(core)),
      socket_(std::move(socket)),
      executor_(socket_.get_executor()),
      timer_(executor_),
      reservation_(core_->options.memory_budget.get()) {
  if (core_->options.tls) {
    tls_context_ = core_->options.tls->Current();
    tls_.emplace(socket_, *tls_context_);
  }
}

Connection::~Connection() {
  if (state_ != State::kClosed) core_->Unregister(this);
}

void Connection::Start() {
  if (state_ == State::kClosed) return;
  error_code ec;
  const auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) remote_address_ = endpoint.address().to_string();
  if (tls_) {
    StartTls();
    return;
  }
  StartRequest();
}

void Connection::StartTls() {
  // The handshake must finish within header_timeout, like a request header; request_started_
  // stays false, so the timer closes the connection without an answer.
  SetDeadline(Clock::now() + core_->options.header_timeout);
  socket_.async_wait(Socket::wait_read,
                     [self = shared_from_this()](error_code ec) { self->OnTlsReadable(ec); });
}

void Connection::OnTlsReadable(error_code ec) {
  if (state_ != State::kReading) return;
  unsigned char byte = 0;
  const ssize_t n = ec ? -1 : ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && !ec && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    StartTls();
    return;
  }
  if (n <= 0) {
    Close();  // the client went away before saying anything
    return;
  }
  constexpr unsigned char kTlsHandshakeRecord = 0x16;
  if (byte != kTlsHandshakeRecord) {
    // Plain HTTP (or anything else) on the HTTPS port: say so in plain text, then close.
    request_started_ = true;
    Reject(Rejection::kTlsHandshake);
    return;
  }
  tls_active_ = true;
  tls_->async_handshake(net::ssl::stream_base::server,
                        [self = shared_from_this()](error_code ec) { self->OnHandshake(ec); });
}

void Connection::OnHandshake(error_code ec) {
  if (state_ != State::kReading) return;
  if (ec) {
    // A client that does not trust our certificate, has none (mutual TLS), or speaks an old
    // protocol: nothing can be said to it in HTTP.
    core_->CountRejection(Rejection::kTlsHandshake);
    Close();
    return;
  }
  StartRequest();
}

void Connection::BeginShutdown() {
  if (state_ == State::kReading && !request_started_) Close();
  // Otherwise the response to the request in progress carries "Connection: close".
}

void Connection::StartRequest() {
  state_ = State::kReading;
  ++seq_;
  request_.Clear();
  body_.clear();
  reservation_.Reset();
  const HttpServer::Options& options = core_->options;
  parser_.emplace(&request_, &body_,
                  ParserLimits{.body_bytes = options.max_body_bytes,
                               .header_bytes = options.max_header_bytes,
                               .chunk_extension_bytes = options.max_chunk_extension_bytes,
                               .trailer_bytes = options.max_trailer_bytes,
                               .reservation = &reservation_});
  request_started_ = false;
  reading_body_ = false;
  body_bytes_read_ = 0;
  continue_sent_ = false;
  if (buffer_.size() == 0 && buffer_.capacity() > kKeepBufferCapacity) buffer_.shrink_to_fit();
  if (core_->shutting_down() && buffer_.size() == 0) {
    Close();
    return;
  }
  ContinueReading();
}

void Connection::ContinueReading() {
  if (buffer_.size() > 0) {
    if (!request_started_) {
      request_started_ = true;
      SetDeadline(Clock::now() + core_->options.header_timeout);
    }
    error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == beast::http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) {
        OnParseError(ec);
        return;
      }
      if (used == 0) break;
    }
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    if (parser_->is_header_done()) {
      if (!reading_body_) {
        reading_body_ = true;
        body_start_ = Clock::now();
      }
      SetDeadline(BodyDeadline());
      // Beast keeps incomplete chunk-size lines and trailer sections without bound.
      if (parser_->chunked() && buffer_.size() > 0) {
        const std::string_view pending(static_cast<const char*>(buffer_.data().data()),
                                       buffer_.size());
        if (auto problem = ChunkedPendingProblem(pending, core_->options.max_chunk_extension_bytes,
                                                 core_->options.max_trailer_bytes)) {
          Reject(*problem);
          return;
        }
      }
    }
    if (parser_->is_header_done() && parser_->expect_continue() && !continue_sent_ &&
        buffer_.size() == 0) {
      continue_sent_ = true;
      WithStream([this](auto& stream) {
        net::async_write(stream, net::buffer(kContinue.data(), kContinue.size()),
                         [self = shared_from_this()](error_code ec, size_t) {
                           if (self->state_ != State::kReading) return;
                           if (ec) {
                             self->Close();
                             return;
                           }
                           self->ContinueReading();
                         });
      });
      return;
    }
  } else if (!request_started_) {
    SetDeadline(Clock::now() + core_->options.idle_timeout);
  }

  size_t chunk = kReadChunk;
  if (parser_->is_header_done() && !parser_->chunked()) {
    if (auto remaining = parser_->content_length_remaining()) {
      chunk = std::clamp<size_t>(static_cast<size_t>(*remaining), kReadChunk, kMaxReadChunk);
    }
  }
  WithStream([this, chunk](auto& stream) {
    stream.async_read_some(
        buffer_.prepare(chunk),
        [self = shared_from_this()](error_code ec, size_t bytes) { self->OnRead(ec, bytes); });
  });
}

void Connection::OnRead(error_code ec, size_t bytes) {
  if (state_ != State::kReading) return;
  if (ec) {
    // EOF between requests is the normal end of a keep-alive connection; mid-request it is a
    // truncated request, and there is nobody left to answer.
    Close();
    return;
  }
  buffer_.commit(bytes);
  if (reading_body_) body_bytes_read_ += bytes;
  ContinueReading();
}

Connection::Clock::time_point Connection::BodyDeadline() const {
  const HttpServer::Options& options = core_->options;
  Clock::time_point deadline = body_start_ + options.body_timeout;
  if (options.min_body_bytes_per_sec > 0) {
    // The bytes read so far buy this much time at the minimum rate (saturating: double).
    const std::chrono::duration<double> earned(static_cast<double>(body_bytes_read_) /
                                               static_cast<double>(options.min_body_bytes_per_sec));
    if (earned < options.body_timeout) {
      deadline = std::min(deadline, body_start_ + options.body_rate_grace +
                                        std::chrono::duration_cast<Clock::duration>(earned));
    }
  }
  return deadline;
}

void Connection::Reject(Rejection rejection, std::string_view detail) {
  core_->CountRejection(rejection);
  head_request_ = false;
  reading_body_ = false;
  WriteResponse(RejectionResponse(rejection, core_->options, detail), /*close_after=*/true);
}

void Connection::OnParseError(error_code ec) {
  if (std::optional<Rejection> failure = parser_->failure()) {
    Reject(*failure, parser_->failure_detail());
  } else if (ec == beast::http::error::body_limit) {
    Reject(Rejection::kBodyTooLarge);
  } else if (ec == beast::http::error::header_limit) {
    Reject(Rejection::kHeaderTooLarge);
  } else {
    Reject(Rejection::kMalformed, ec.message());
  }
}

void Connection::Dispatch() {
  keep_alive_ = parser_->keep_alive();
  reading_body_ = false;
  head_request_ = request_.method == "HEAD";
  SplitTarget(request_);
  request_.body =
      body_.empty() ? EmptyBody() : std::make_shared<const std::string>(std::move(body_));
  request_.remote_address = remote_address_;
  state_ = State::kAwaitingResponse;
  SetDeadline(Clock::time_point::max());  // the application takes as long as it takes

  const uint64_t seq = seq_;
  // Kept here too so that a handler that throws is answered with its exception's message.
  auto responder = std::make_shared<ConnectionResponder>(shared_from_this(), seq);
  try {
    core_->router->Dispatch(request_, responder);
  } catch (const std::exception& e) {
    responder->Send(ErrorResponse(500, absl::StrCat("internal error: ", e.what())));
  } catch (...) {
    responder->Send(ErrorResponse(500, "internal error: the handler threw"));
  }
  responder.reset();  // when this was the last reference, it answers 500 (no response)
  // Still unanswered: the handler went asynchronous. Watch for the client going away.
  if (state_ == State::kAwaitingResponse && seq_ == seq) StartDisconnectWatch();
}

void Connection::StartDisconnectWatch() {
  // Buffered bytes are a pipelined request: the client is there. Reading them now would break
  // the one-request-at-a-time order, so stop watching.
  if (buffer_.size() > 0) return;
  watching_ = true;
  socket_.async_wait(Socket::wait_read, [self = shared_from_this(), seq = seq_](error_code ec) {
    self->OnReadable(ec, seq);
  });
}

void Connection::OnReadable(error_code ec, uint64_t seq) {
  if (ec == net::error::operation_aborted || seq != seq_ || state_ != State::kAwaitingResponse) {
    return;
  }
  watching_ = false;
  if (!ec) {
    char byte;
    ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 && tls_active_) {
      // TLS records (a pipelined request, or close_notify before the client closes): gone
      // if it has shut down its side too.
      pollfd fd = {.fd = socket_.native_handle(), .events = POLLRDHUP, .revents = 0};
      if (::poll(&fd, 1, 0) <= 0 || (fd.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) return;
      n = 0;
    }
    if (n > 0) return;  // a pipelined request: the client is alive; stop watching
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      StartDisconnectWatch();
      return;
    }
  }
  Close();  // EOF or error while the request is unanswered: the client has gone
}

void Connection::PostResponse(uint64_t seq, HttpResponse response) {
  if (executor_.running_in_this_thread()) {
    SubmitResponse(seq, std::move(response));  // the common case: answered inside the handler
    return;
  }
  core_->Post(executor_,
              [self = shared_from_this(), seq, response = std::move(response)]() mutable {
                self->SubmitResponse(seq, std::move(response));
              });
}

void Connection::SubmitResponse(uint64_t seq, HttpResponse response) {
  if (seq != seq_ || state_ != State::kAwaitingResponse) return;
  disconnect_callbacks_.clear();
  if (watching_) {
    watching_ = false;
    error_code ignored;
    socket_.cancel(ignored);
  }
  WriteResponse(std::move(response),
                !keep_alive_ || core_->shutting_down() || core_->draining());
}

void Connection::PostDisconnectCallback(uint64_t seq, std::function<void()> callback) {
  if (executor_.running_in_this_thread()) {
    AddDisconnectCallback(seq, std::move(callback), /*run_inline=*/false);
    return;
  }
  core_->Post(executor_,
              [self = shared_from_this(), seq, callback = std::move(callback)]() mutable {
                self->AddDisconnectCallback(seq, std::move(callback), /*run_inline=*/true);
              });
}

void Connection::AddDisconnectCallback(uint64_t seq, std::function<void()> callback,
                                       bool run_inline) {
  if (seq != seq_ || !callback) return;
  if (state_ == State::kAwaitingResponse) {
    disconnect_callbacks_.push_back(std::move(callback));
    return;
  }
  // Closed while this request was unanswered: the disconnect has happened already.
  if (state_ == State::kClosed && disconnected()) {
    if (run_inline) {
      callback();
    } else {
      core_->Post(executor_, std::move(callback));
    }
  }
}

void Connection::WriteResponse(HttpResponse response, bool close_after) {
  response_ = std::move(response);
  if (response_.status < 200 || response_.status > 999) {
    response_ =
        ErrorResponse(500, absl::StrCat("internal error: invalid HTTP status ", response_.status));
  }
  close_after_write_ = close_after;
  SerializeHead(response_, close_after, request_.version, &head_);
  const bool send_body = !head_request_ && StatusHasBody(response_.status);
  state_ = State::kWriting;
  core_->requests_served.fetch_add(1, std::memory_order_relaxed);
  SetDeadline(Clock::now() + core_->options.idle_timeout);
  // Asio's TLS stream writes one buffer per record (and per send): a small body travels in the
  // header's buffer instead, one record and one packet.
  constexpr size_t kCoalesceBytes = 16 * 1024;
  const bool coalesce = tls_active_ && send_body && response_.body.size() <= kCoalesceBytes;
  if (coalesce) head_.append(response_.body);
  const std::array<net::const_buffer, 2> buffers = {
      net::buffer(head_),
      send_body && !coalesce ? net::buffer(response_.body) : net::const_buffer()};
  WithStream([this, &buffers](auto& stream) {
    net::async_write(stream, buffers,
                     [self = shared_from_this()](error_code ec, size_t) { self->OnWrite(ec); });
  });
}

void Connection::OnWrite(error_code ec) {
  if (state_ != State::kWriting) return;
  if (ec) {
    Close();
    return;
  }
  // Free the body now (it can be large); keep the header buffer's capacity.
  reservation_.Reset();  // the request is answered: its body leaves the memory budget
  response_.body = std::string();
  response_.headers.clear();
  if (close_after_write_) {
    GracefulClose();
    return;
  }
  StartRequest();
}

void Connection::GracefulClose() {
  state_ = State::kLingering;
  core_->MarkLingering(this);
  if (tls_active_) {
    // close_notify, then wait (at most kLingerTime) for the client's; its unread data is
    // discarded by OpenSSL.
    SetDeadline(Clock::now() + kLingerTime);
    tls_->async_shutdown([self = shared_from_this()](error_code) {
      if (self->state_ == State::kLingering) self->Close();
    });
    return;
  }
  error_code ignored;
  socket_.shutdown(Socket::shutdown_send, ignored);  // the client sees EOF after our response
  SetDeadline(Clock::now() + kLingerTime);
  buffer_.clear();
  lingered_bytes_ = 0;
  LingerRead();
}

void Connection::LingerRead() {
  socket_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = shared_from_this()](error_code ec, size_t bytes) {
                            if (self->state_ != State::kLingering) return;
                            self->lingered_bytes_ += bytes;
                            if (ec || self->lingered_bytes_ > kMaxLingerBytes) {
                              self->Close();
                              return;
                            }
                            self->LingerRead();  // discard (never committed) and read on
                          });
}

void Connection::Close() {
  if (state_ == State::kClosed) return;
  const bool unanswered = state_ == State::kAwaitingResponse;
  state_ = State::kClosed;
  watching_ = false;
  error_code ignored;
  socket_.close(ignored);  // pending operations complete with operation_aborted
  timer_.cancel();
  timer_armed_ = false;
  parser_.reset();
  reservation_.Reset();
  core_->Unregister(this);
  if (unanswered) {
    disconnected_.store(true, std::memory_order_release);
    std::vector<std::function<void()>> callbacks = std::move(disconnect_callbacks_);
    disconnect_callbacks_.clear();
    for (auto& callback : callbacks) {
      try {
        callback();
      } catch (...) {
        // A throwing callback must not take the network thread down.
      }
    }
  }
}

// Deadlines ------------------------------------------------------------------------------------

Connection::Clock::duration Connection::ShortestTimeout() const {
  const HttpServer::Options& o = core_->options;
  return std::min({Clock::duration(o.idle_timeout), Clock::duration(o.header_timeout),
                   Clock::duration(o.body_timeout), Clock::duration(o.body_rate_grace)});
}

void Connection::SetDeadline(Clock::time_point deadline) {
  deadline_ = deadline;
  if (deadline == Clock::time_point::max()) return;
  if (timer_armed_ && timer_expiry_ <= deadline) return;  // it will fire in time and re-check
  // Arm no later than the shortest timeout from now, so that a deadline set a moment later
  // (idle -> first byte of a request -> request deadline) never needs a re-arm.
  ArmTimer(std::min(deadline, Clock::now() + ShortestTimeout()));
}

void Connection::ArmTimer(Clock::time_point at) {
  timer_expiry_ = at;
  timer_armed_ = true;
  const uint64_t generation = ++timer_generation_;
  timer_.expires_at(at);  // cancels a pending wait; its handler sees a stale generation
  timer_.async_wait(
      [self = shared_from_this(), generation](error_code ec) { self->OnTimer(ec, generation); });
}

void Connection::OnTimer(error_code ec, uint64_t generation) {
  if (generation != timer_generation_ || state_ == State::kClosed) return;
  timer_armed_ = false;
  if (deadline_ == Clock::time_point::max()) return;  // no deadline now; SetDeadline re-arms
  const auto now = Clock::now();
  if (state_ == State::kReading && reading_body_) {
    deadline_ = BodyDeadline();  // it moves later as bytes arrive, without re-arming
  }
  if (now >= deadline_) {
    if (state_ == State::kReading && request_started_) {
      // A slow client: tell it why, then close (the write is bounded by idle_timeout). The
      // pending read (or 100-continue write) is cancelled first: its handler then sees a state
      // other than kReading and does nothing.
      error_code ignored;
      socket_.cancel(ignored);
      Reject(reading_body_ ? Rejection::kBodyTimeout : Rejection::kHeaderTimeout);
      return;
    }
    Close();  // timed out: idle keep-alive, stalled write or linger
    return;
  }
  ArmTimer(std::min(deadline_, now + ShortestTimeout()));
}

}  // namespace ptserve::http::internal
