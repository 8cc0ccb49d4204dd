// An asynchronous HTTP/1.1 server (Boost.Beast parser + Asio sockets) that hands each request
// to a Router. It is the transport only: it knows nothing about inference.
//
//   auto router = std::make_shared<Router>();
//   router->Add("GET", "/ping", [](HttpRequest&, std::shared_ptr<Responder> responder) {
//     responder->Send({.body = "{}"});
//   });
//   ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server,
//                    HttpServer::Create({.port = 8000}, std::move(router)));
//   server->Start();
//   ...                                           // on SIGTERM:
//   server->Shutdown(std::chrono::seconds(10));   // drain, then force-close
//
// Behaviour on the wire:
//  - keep-alive by default for HTTP/1.1; `Connection: close` and HTTP/1.0 (without
//    `Connection: keep-alive`) close after the response;
//  - requests on one connection are handled strictly in order: the next request is parsed only
//    after the current response is written, so pipelining is safe;
//  - bodies by Content-Length or chunked; `Expect: 100-continue` is answered;
//  - a body over Options::max_body_bytes gets 413, a malformed request 400, a header block
//    over Options::max_header_bytes 431, chunk extensions over max_chunk_extension_bytes 400,
//    trailer fields over max_trailer_bytes 431, a body that does not fit the memory budget 503
//    with Retry-After; each is a JSON error {"error":"..."} and the connection is then closed;
//  - trailer fields (after a chunked body) are read, bounded and dropped: they never become
//    header fields, so a trailer cannot override a header the application reads;
//  - slow clients: the header must arrive within header_timeout of its first byte, the body
//    within body_timeout of the header's end and never slower on average than
//    min_body_bytes_per_sec (after body_rate_grace); else 408 and close. An idle keep-alive
//    connection is closed after idle_timeout;
//  - with Options::tls, HTTPS (TLS 1.2/1.3) with everything above unchanged inside it; a
//    graceful close sends TLS close_notify;
//  - every response carries `Server: ptserve`, `Date` and `Content-Length`; HEAD responses
//    carry no body; 1xx/204/304 carry neither body nor Content-Length.
//
// Threads: `Options::threads` network threads, each running its own io_context; the acceptor
// spreads connections over them round-robin and a connection stays on its thread. Handlers
// run on the connection's thread and must not block; Responder::Send may be called from any
// thread.
#ifndef PTSERVE_SERVER_HTTP_HTTP_SERVER_H_
#define PTSERVE_SERVER_HTTP_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/http/http_message.h"
#include "server/http/memory_budget.h"
#include "server/http/router.h"

namespace ptserve::http {

// Why the transport refused a connection or a request before the application saw it (the
// label of ptserve_http_rejected_total).
enum class Rejection {
  kConnectionLimit,         // over Options::max_connections: 503, closed
  kMemoryBudget,            // body does not fit Options::memory_budget: 503 + Retry-After
  kHeaderTooLarge,          // 431
  kChunkExtensionTooLarge,  // 400
  kTrailerTooLarge,         // 431
  kBodyTooLarge,            // 413
  kMalformed,               // 400
  kHeaderTimeout,           // 408
  kBodyTimeout,             // 408 (body_timeout or below min_body_bytes_per_sec)
  kTlsHandshake,            // TLS port: plain HTTP (400 in plain HTTP), or a failed or slow
                            // handshake (closed: no answer can be read)
};
inline constexpr int kRejectionCount = 10;
// "connection_limit", "memory_budget", "header_too_large", "chunk_extension_too_large",
// "trailer_too_large", "body_too_large", "malformed", "header_timeout", "body_timeout",
// "tls_handshake".
const char* RejectionName(Rejection rejection);

class TlsContext;

namespace internal {
class ServerCore;
}  // namespace internal

// Thread-safety: all methods may be called from any thread except a network thread (Shutdown
// and the destructor join those threads), and Start at most once.
class HttpServer {
 public:
  struct Options {
    // IP address to listen on (IPv4 or IPv6 literal; no host names).
    std::string address = "0.0.0.0";
    // TCP port; 0 picks a free ephemeral port (see port()).
    int port = 8000;
    // Network threads (>= 1).
    int threads = 2;
    // Largest accepted request body; larger gets 413 and the connection closed.
    size_t max_body_bytes = size_t{64} << 20;
    // Largest request line plus header fields; larger gets 431.
    size_t max_header_bytes = size_t{64} << 10;
    // Chunked bodies: all chunk extensions (";name=value" after a chunk size) of one request
    // together, and one chunk-size line, at most this many bytes; more gets 400.
    size_t max_chunk_extension_bytes = 4096;
    // Chunked bodies: the trailer section after the last chunk at most this many bytes; more
    // gets 431. Trailer fields are dropped, never merged into the header fields.
    size_t max_trailer_bytes = 8192;
    // A keep-alive connection waiting for the next request this long is closed. Also bounds
    // the time to write one response to a client that does not read.
    std::chrono::seconds idle_timeout{60};
    // From a request's first byte to the end of its header block; else 408 and close.
    std::chrono::seconds header_timeout{10};
    // From the end of the header to the end of the body; else 408 and close.
    std::chrono::seconds body_timeout{60};
    // Slowest accepted average body rate, in bytes per second, counted from the end of the
    // header after the first body_rate_grace; slower gets 408 and close. 0: no minimum.
    uint64_t min_body_bytes_per_sec = 1024;
    std::chrono::seconds body_rate_grace{5};
    // Connections beyond this are answered 503 and closed at once (counted).
    size_t max_connections = 10000;
    // Shared bound on request bodies in memory (from arrival until the response is written),
    // possibly shared by several servers; null: none. A body that does not fit gets 503 with
    // Retry-After at once.
    std::shared_ptr<MemoryBudget> memory_budget;
    // Called on the network thread for every rejection (after it is counted); must be quick
    // and must not block. May be empty.
    std::function<void(Rejection)> on_rejected;
    // HTTPS: every connection speaks TLS with the context's current certificate (a Reload
    // applies to connections accepted afterwards). The handshake counts against
    // header_timeout. A plain HTTP request gets 400 in plain HTTP and the connection closed.
    // Null: plain HTTP.
    std::shared_ptr<TlsContext> tls;
  };

  // Binds and listens (so a taken port fails here, naming the address), but serves nothing
  // until Start. `router` must not be modified afterwards.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const Options& options,
                                                            std::shared_ptr<const Router> router);

  // Shutdown(0) if still running.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts the network threads and accepting. Does not block.
  void Start();

  // The port actually bound (useful with Options::port = 0).
  int port() const { return port_; }

  // Closes the listening socket: new connections are refused; existing connections, and the
  // requests on them, continue. Idempotent; does not block.
  void StopAccepting();

  // Stops accepting; closes connections that are idle between requests; lets requests in
  // flight finish (their responses are written, then those connections close); after `grace`
  // force-closes what is left (OnDisconnect callbacks fire), then joins the network threads.
  // Blocks for at most about `grace` plus the time to run queued network work. Idempotent.
  // Responders that the application still holds afterwards stay valid; their Send does
  // nothing.
  void Shutdown(std::chrono::milliseconds grace);

  // Draining (before Shutdown, e.g. while a load balancer stops routing
  // here): requests are still accepted and served, but every response says
  // `Connection: close`, so clients reconnect elsewhere. Any thread.
  void SetDraining(bool draining);

  // Connections currently open. Any thread.
  size_t open_connections() const;

  // Responses sent so far (counted when the write starts; error responses included). Any thread.
  uint64_t requests_served() const;

  // Rejections of `reason` so far. Any thread.
  uint64_t rejected(Rejection reason) const;

 private:
  HttpServer(std::shared_ptr<internal::ServerCore> core, int port);

  std::shared_ptr<internal::ServerCore> core_;  // shared with every connection
  const int port_;
};

}  // namespace ptserve::http

#endif  // PTSERVE_SERVER_HTTP_HTTP_SERVER_H_
