// Internals of HttpServer: the state shared by the server and its connections, and one HTTP/1.1
// connection. Not part of the public API (include http_server.h instead).
#ifndef PTSERVE_SERVER_HTTP_CONNECTION_H_
#define PTSERVE_SERVER_HTTP_CONNECTION_H_

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "core/mutex.h"
#include "server/http/http_message.h"
#include "server/http/http_server.h"
#include "server/http/router.h"

namespace ptserve::http::internal {

namespace net = boost::asio;
using Executor = net::io_context::executor_type;
// Sockets and timers bound to one io_context's executor (not any_io_executor): no type-erased
// executor call on every operation.
using Socket = net::basic_stream_socket<net::ip::tcp, Executor>;
using Acceptor = net::basic_socket_acceptor<net::ip::tcp, Executor>;
using Timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                        net::wait_traits<std::chrono::steady_clock>, Executor>;

class Connection;

// What one request may cost the parser (HttpServer::Options' limits, resolved per request).
struct ParserLimits {
  uint64_t body_bytes = uint64_t{64} << 20;
  size_t header_bytes = size_t{64} << 10;
  size_t chunk_extension_bytes = 4096;
  size_t trailer_bytes = 8192;
  // Where the body's bytes are reserved against the memory budget (Content-Length up front,
  // else each chunk's size as announced); null: no budget.
  MemoryBudget::Reservation* reservation = nullptr;
};

// Beast's HTTP/1 request parser writing straight into an HttpRequest (lower-cased header names,
// body appended to a std::string), so no intermediate beast::http::message is built and copied.
// One parser per request (Beast parsers are single-use); construction allocates nothing.
// Trailer fields are counted against the trailer limit and dropped (never merged into
// request->headers). A limit it enforces itself fails the parse with failure() set.
class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  // `request` and `body` must outlive the parser; both should be empty. `limits.reservation`
  // (when set) must outlive the parser.
  RequestParser(HttpRequest* request, std::string* body, const ParserLimits& limits);

  // The request has `Expect: 100-continue`.
  bool expect_continue() const { return expect_continue_; }
  // Why put() failed, when it was one of our checks (Beast's own errors leave it empty), and
  // for kMalformed what was wrong.
  std::optional<Rejection> failure() const { return failure_; }
  std::string_view failure_detail() const { return failure_detail_; }
  // The last chunk has been seen: what follows is the trailer section.
  bool in_trailers() const { return in_trailers_; }

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;

  void Fail(Rejection why, error_code& ec, std::string_view detail = "");
  void on_request_impl(boost::beast::http::verb method, string_view method_str, string_view target,
                       int version, error_code& ec) override;
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(boost::optional<std::uint64_t> const& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override {}

  HttpRequest* const request_;
  std::string* const body_;
  const ParserLimits limits_;
  bool expect_continue_ = false;
  bool in_trailers_ = false;
  bool transfer_encoding_ = false;  // a Transfer-Encoding field was seen
  size_t extension_bytes_ = 0;
  size_t trailer_bytes_ = 0;
  std::optional<Rejection> failure_;
  std::string_view failure_detail_;  // a string literal
};

// Bytes of a chunked body that the parser has left unconsumed because they do not yet form a
// complete element: a chunk-size line (size and extensions) without its CRLF, or the last
// chunk's line plus a trailer section without its final empty line. Beast 1.74 buffers these
// without bound; this says when they exceed the limits (kChunkExtensionTooLarge or
// kTrailerTooLarge), nullopt while they are within them.
std::optional<Rejection> ChunkedPendingProblem(std::string_view pending,
                                               size_t max_chunk_extension_bytes,
                                               size_t max_trailer_bytes);

// Splits request.target into path and query, as a connection does before routing. An
// absolute-form target ("http://host/path?q", RFC 9112 §3.2.2) contributes only its path.
// Exposed for fuzz/http_request_fuzzer.cc.
void SplitTarget(HttpRequest& request);

// The JSON error response the transport sends for `rejection` (status, message, Retry-After).
HttpResponse RejectionResponse(Rejection rejection, const HttpServer::Options& options,
                               std::string_view detail = "");

// Everything the server and its connections share. Held by std::shared_ptr from the HttpServer
// and from every Connection, so the io_contexts outlive any Connection (and any Responder the
// application keeps after the server is gone).
class ServerCore {
 public:
  ServerCore(const HttpServer::Options& options, std::shared_ptr<const Router> router);
  ~ServerCore();

  // Posts `fn` to `executor` unless StopPosting has been called, in which case `fn` is dropped.
  // Any thread. Used for work coming from outside the network threads (Responder calls).
  template <typename Fn>
  void Post(const Executor& executor, Fn&& fn) {
    ReaderMutexLock lock(post_mu_);
    if (!posting_stopped_) net::post(executor, std::forward<Fn>(fn));
  }
  void StopPosting();

  // Connection registry. Register fails once shutdown has begun. Any thread.
  bool Register(Connection* connection);
  void Unregister(Connection* connection);
  // The connection has sent its last response and only drains input before closing: Shutdown
  // need not wait for it (it is force-closed at the end).
  void MarkLingering(Connection* connection);
  std::vector<std::shared_ptr<Connection>> Snapshot();
  // Marks shutdown begun; later Register calls fail.
  void BeginShutdown();
  // Waits until no connection other than lingering ones is registered, or `deadline` passes.
  // True if none is left.
  bool WaitForNoConnections(std::chrono::steady_clock::time_point deadline);

  bool shutting_down() const { return shutting_down_.load(std::memory_order_acquire); }
  // Draining: still serving, but every response closes its connection.
  void set_draining(bool draining) { draining_.store(draining, std::memory_order_release); }
  bool draining() const { return draining_.load(std::memory_order_acquire); }

  const HttpServer::Options options;
  const std::shared_ptr<const Router> router;
  // One io_context per network thread; connections are spread over them.
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<net::executor_work_guard<Executor>> work_guards;
  std::vector<std::thread> threads;
  // The acceptor and its helpers run on contexts[0].
  std::optional<Acceptor> acceptor;
  std::optional<Socket> pending_socket;  // the socket the current async_accept fills
  std::optional<Timer> accept_retry_timer;
  size_t next_context = 0;

  std::atomic<uint64_t> requests_served{0};
  std::atomic<size_t> open_connections{0};
  std::atomic<uint64_t> rejected[kRejectionCount] = {};

  // Counts a rejection and tells Options::on_rejected. Network threads.
  void CountRejection(Rejection rejection) {
    rejected[static_cast<int>(rejection)].fetch_add(1, std::memory_order_relaxed);
    if (options.on_rejected) options.on_rejected(rejection);
  }

  // HttpServer's lifecycle (Start/Shutdown may be called from any thread).
  Mutex lifecycle_mu;
  bool started ABSL_GUARDED_BY(lifecycle_mu) = false;
  bool accepting_stopped ABSL_GUARDED_BY(lifecycle_mu) = false;
  bool shut_down ABSL_GUARDED_BY(lifecycle_mu) = false;

 private:
  bool OnlyLingering() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return connections_.size() == lingering_.size();
  }

  // core/mutex.h's wrappers over std:: mutexes (not absl::Mutex: Debian's libabsl is not built
  // with ThreadSanitizer, which then cannot see its synchronisation), annotated for clang's
  // -Wthread-safety (scripts/thread_safety.sh).
  SharedMutex post_mu_;
  bool posting_stopped_ ABSL_GUARDED_BY(post_mu_) = false;

  mutable Mutex mu_;
  CondVar no_connections_cv_;  // signalled when OnlyLingering() may be true
  absl::flat_hash_set<Connection*> connections_ ABSL_GUARDED_BY(mu_);
  // A subset of connections_.
  absl::flat_hash_set<Connection*> lingering_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> draining_{false};
};

// One accepted TCP connection speaking HTTP/1.1. All its state is confined to its io_context's
// single thread; the public methods marked "any thread" hop there. Requests are handled one at
// a time: read and parse one, dispatch it, write the response, then parse the next (from bytes
// already buffered when the client pipelines).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerCore> core, Socket socket);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Network thread of this connection.
  void Start();
  // Network thread: close now if idle between requests, else after the current response.
  void BeginShutdown();
  // Network thread: close at once (fires OnDisconnect callbacks of an unanswered request).
  void Close();

  // Any thread. The response to request number `seq`; dropped if that request is no longer
  // the one awaiting its response (answered already, or the connection closed).
  void PostResponse(uint64_t seq, HttpResponse response);
  // Any thread. See Responder::OnDisconnect.
  void PostDisconnectCallback(uint64_t seq, std::function<void()> callback);
  // Any thread.
  bool disconnected() const { return disconnected_.load(std::memory_order_acquire); }

  const Executor& executor() { return executor_; }

 private:
  enum class State {
    kReading,           // reading/parsing a request
    kAwaitingResponse,  // handler has the request; waiting for Send
    kWriting,           // writing the response
    kLingering,         // response sent with close: draining input until the peer closes
    kClosed,
  };
  using Clock = std::chrono::steady_clock;

  // HTTPS: peeks at the first byte (a TLS record or plain HTTP), then the handshake.
  void StartTls();
  void OnTlsReadable(boost::system::error_code ec);
  void OnHandshake(boost::system::error_code ec);
  // Runs `op` on the byte stream of this connection: the TLS stream once TLS is active, else
  // the socket. `op` takes the stream by reference (a generic lambda).
  template <typename Op>
  void WithStream(Op&& op) {
    if (tls_active_) {
      op(*tls_);
    } else {
      op(socket_);
    }
  }
  void StartRequest();
  void ContinueReading();
  // Refuses the request being read with the transport's answer for `rejection`, then closes.
  void Reject(Rejection rejection, std::string_view detail = "");
  // The deadline of the body being read (body_timeout and the minimum rate).
  Clock::time_point BodyDeadline() const;
  void OnRead(boost::system::error_code ec, size_t bytes);
  void OnParseError(boost::system::error_code ec);
  void Dispatch();
  void StartDisconnectWatch();
  void OnReadable(boost::system::error_code ec, uint64_t seq);
  void SubmitResponse(uint64_t seq, HttpResponse response);
  void AddDisconnectCallback(uint64_t seq, std::function<void()> callback, bool run_inline);
  void WriteResponse(HttpResponse response, bool close_after);
  void OnWrite(boost::system::error_code ec);
  void GracefulClose();
  void LingerRead();
  Clock::duration ShortestTimeout() const;
  void SetDeadline(Clock::time_point deadline);
  void ArmTimer(Clock::time_point at);
  void OnTimer(boost::system::error_code ec, uint64_t generation);

  const std::shared_ptr<ServerCore> core_;
  Socket socket_;
  // HTTPS: the context this connection was accepted with (kept: a reload does not touch it)
  // and the TLS stream over socket_; tls_active_ once the first byte said TLS.
  std::shared_ptr<net::ssl::context> tls_context_;
  std::optional<net::ssl::stream<Socket&>> tls_;
  bool tls_active_ = false;
  const Executor executor_;
  Timer timer_;
  boost::beast::flat_buffer buffer_;
  std::string remote_address_;

  State state_ = State::kReading;
  uint64_t seq_ = 0;  // number of the current request on this connection
  std::optional<RequestParser> parser_;
  HttpRequest request_;
  std::string body_;              // the parser appends here; moved into request_.body
  bool request_started_ = false;  // bytes of the current request have arrived
  bool reading_body_ = false;     // the header is complete; the body is arriving
  Clock::time_point body_start_;  // when the header was complete
  uint64_t body_bytes_read_ = 0;  // bytes read since then
  MemoryBudget::Reservation reservation_;  // the current request's body in the memory budget
  bool continue_sent_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool watching_ = false;  // a disconnect watch (async_wait) is pending
  bool close_after_write_ = false;
  std::atomic<bool> disconnected_{false};
  std::vector<std::function<void()>> disconnect_callbacks_;

  HttpResponse response_;  // being written
  std::string head_;       // status line and header fields being written
  size_t lingered_bytes_ = 0;

  // One timer enforces all deadlines. It is re-armed only when it fires or when a deadline
  // moves earlier than the armed expiry, so a fast keep-alive loop does not touch it.
  Clock::time_point deadline_ = Clock::time_point::max();  // max: none
  Clock::time_point timer_expiry_;
  bool timer_armed_ = false;
  uint64_t timer_generation_ = 0;
};

}  // namespace ptserve::http::internal

#endif  // PTSERVE_SERVER_HTTP_CONNECTION_H_
