#include "test_http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace ptserve::bench {

TestHttpServer::TestHttpServer(Options options) : options_(std::move(options)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));  // port 0
  listen(listen_fd_, 256);
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

TestHttpServer::~TestHttpServer() {
  stop_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  accept_thread_.join();
  close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : fds_) close(fd);
}

std::string TestHttpServer::last_body() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_body_;
}

void TestHttpServer::AcceptLoop() {
  while (!stop_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stop_) return;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestHttpServer::Serve(int fd) {
  std::string in;
  char buf[65536];
  auto send_all = [&](const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  };
  for (;;) {
    size_t header_end;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        shutdown(fd, SHUT_RDWR);
        return;
      }
      in.append(buf, static_cast<size_t>(n));
    }
    std::string_view head(in.data(), header_end);
    size_t content_length = 0;
    size_t pos = head.find("\r\n");
    const std::string request_line(head.substr(0, pos));
    while (pos != std::string_view::npos && pos < head.size()) {
      size_t eol = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(pos + 2, eol == std::string_view::npos ? eol : eol - pos - 2);
      if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0) {
        content_length = std::strtoull(std::string(line.substr(15)).c_str(), nullptr, 10);
      }
      pos = eol;
    }
    const size_t total = header_end + 4 + content_length;
    while (in.size() < total) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        shutdown(fd, SHUT_RDWR);
        return;
      }
      in.append(buf, static_cast<size_t>(n));
    }
    std::string body = in.substr(header_end + 4, content_length);
    in.erase(0, total);

    int status = 200;
    std::string reply;
    std::string extra;
    if (request_line.starts_with("GET /v2/models/m ")) {
      reply = options_.metadata;
    } else if (request_line.starts_with("POST /v2/models/m/infer ") ||
               request_line.starts_with("POST /predict ")) {
      const int64_t n = ++inference_requests_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_body_ = body;
      }
      if (body.empty() || (body[0] != '{')) ++bad_requests_;
      if (options_.close_every > 0 && n % options_.close_every == 0) {
        shutdown(fd, SHUT_RDWR);
        return;
      }
      if (options_.status_503_every > 0 && n % options_.status_503_every == 0) {
        status = 503;
        reply = R"({"error":"queue full"})";
      } else {
        reply = R"({"model_name":"m","outputs":[{"name":"OUTPUT__0","shape":[1,2],)"
                R"("datatype":"FP32","data":[0.5,0.25]}]})";
        if (options_.timing_headers) {
          extra = "X-Queue-Time-Us: 7\r\nX-Compute-Time-Us: 11\r\nX-Batch-Size: 2\r\n";
        }
      }
    } else {
      status = 404;
      reply = "{\"error\":\"not found: " + std::string(request_line) + "\"}";
    }
    std::string response = "HTTP/1.1 " + std::to_string(status) +
                           (status == 200 ? " OK" : status == 503 ? " Service Unavailable" : " Not Found") +
                           "\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(reply.size()) + "\r\n" + extra + "\r\n" + reply;
    if (!send_all(response)) return;
  }
}

}  // namespace ptserve::bench
