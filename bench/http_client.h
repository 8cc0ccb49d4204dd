// Minimal HTTP/1.1 client pieces for the load generator: endpoint parsing, request
// serialization, an incremental response parser, a non-blocking keep-alive connection for use
// with epoll, and a blocking one-shot Fetch() for setup calls (model metadata).
//
//   ASSIGN_OR_RETURN(Endpoint ep, ParseEndpoint("http://localhost:8000"));
//   std::string req = SerializeRequest("POST", "/v2/models/m/infer", ep, "application/json", {}, body);
//   Connection c(&ep);                  // then Connect(), Send(&req), Receive() from an epoll loop
//
// Responses: status line, headers, and a body framed by Content-Length or chunked transfer
// encoding (a response with neither is accepted only with status 1xx/204/304 or on close, which
// is reported as a bad response). Reads `Connection: close` and the server timing headers
// X-Queue-Time-Us / X-Compute-Time-Us / X-Batch-Size. Everything here is single-threaded.
#ifndef PTSERVE_BENCH_HTTP_CLIENT_H_
#define PTSERVE_BENCH_HTTP_CLIENT_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ptserve::bench {

struct Endpoint {
  std::string host;
  int port = 0;
  std::string host_header;  // "host:port"
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
};

// Accepts "host:port", "host" (port 80), "http://host:port[/]". Resolves the host once
// (getaddrinfo, blocking). grpc:// and https:// give kUnimplemented.
absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view url);

// Full request bytes (request line, Host, Content-Length, Content-Type if not empty, extra
// headers, body). Built once and sent as-is on every request.
std::string SerializeRequest(absl::string_view method, absl::string_view path, const Endpoint& ep,
                             absl::string_view content_type,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             absl::string_view body);

struct ResponseInfo {
  int status = 0;
  bool keep_alive = true;
  // Server timing, -1 when not reported (headers, or the body's "parameters" as a fallback).
  int64_t queue_time_us = -1;
  int64_t compute_time_us = -1;
  int64_t batch_size = -1;
  absl::string_view body;  // valid until the parser is fed again
};

// Incremental parser over a caller-owned buffer holding one (possibly partial) response at its
// start. Call Parse() after each read with the whole unconsumed buffer.
class ResponseParser {
 public:
  enum class Result { kNeedMore, kComplete, kError };

  // On kComplete, `*out` describes the response and `*consumed` is its length in bytes; the
  // parser is then reset for the next response. On kError, `error()` says why.
  Result Parse(const char* data, size_t size, ResponseInfo* out, size_t* consumed);
  // At EOF: completes a response that is framed by connection close. kError otherwise.
  Result ParseAtEof(const char* data, size_t size, ResponseInfo* out, size_t* consumed);
  // Whether the body should be scanned for "queue_time_us" etc. when headers lack them.
  void set_scan_body_for_timing(bool v) { scan_body_ = v; }
  const std::string& error() const { return error_; }
  void Reset();

 private:
  Result ParseHeaders(const char* data, size_t size);
  Result ParseChunked(const char* data, size_t size, size_t* end);
  void Finish(const char* data, ResponseInfo* out);

  bool headers_done_ = false;
  size_t scan_from_ = 0;  // where to resume looking for the end of headers
  size_t header_len_ = 0;
  int64_t content_length_ = -1;
  bool chunked_ = false;
  bool scan_body_ = true;
  ResponseInfo info_;
  std::string chunked_body_;
  std::string error_;
};

// One non-blocking TCP connection (TCP_NODELAY). The owner registers fd() with epoll.
class Connection {
 public:
  enum class Io {
    kDone,    // connect finished / request fully written / response complete
    kAgain,   // would block; wait for readiness
    kClosed,  // peer closed before a complete response
    kError,   // socket error or unparseable response (see error())
  };

  explicit Connection(const Endpoint* endpoint) : endpoint_(endpoint) {}
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts a non-blocking connect: kDone (connected), kAgain (wait for EPOLLOUT, then
  // FinishConnect()), kError.
  Io Connect();
  Io FinishConnect();
  // Starts writing `request` (must stay alive until kDone); ContinueSend() after EPOLLOUT.
  Io Send(const std::string* request);
  Io ContinueSend();
  bool sending() const { return request_ != nullptr; }
  // One read; kDone when a complete response is buffered (see response()).
  Io Receive();
  const ResponseInfo& response() const { return response_; }
  // Drops the consumed response from the buffer; call after handling response().
  void ConsumeResponse();

  void Close();
  int fd() const { return fd_; }
  bool connected() const { return connected_; }
  const std::string& error() const { return error_; }
  void set_scan_body_for_timing(bool v) { parser_.set_scan_body_for_timing(v); }

 private:
  const Endpoint* endpoint_;
  int fd_ = -1;
  bool connected_ = false;
  const std::string* request_ = nullptr;
  size_t sent_ = 0;
  std::vector<char> buf_ = std::vector<char>(16384);
  size_t len_ = 0;
  size_t consumed_ = 0;
  ResponseParser parser_;
  ResponseInfo response_;
  std::string error_;
};

struct FetchResult {
  int status = 0;
  std::string body;
};

// A blocking request on a fresh connection, for setup calls. `timeout_ms` bounds the whole call.
absl::StatusOr<FetchResult> Fetch(const Endpoint& endpoint, absl::string_view method,
                                  absl::string_view path, absl::string_view content_type,
                                  absl::string_view body, int timeout_ms = 10000,
                                  const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace ptserve::bench

#endif  // PTSERVE_BENCH_HTTP_CLIENT_H_
