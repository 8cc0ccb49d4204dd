#include "server/http/http_server.h"

// First: Connection must have the same layout here as in connection.cc (see connection.h).
#include "server/http/connection.h"

#include <sys/socket.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ptserve::http {
namespace {

using boost::system::error_code;
using internal::Connection;
using internal::ServerCore;
namespace net = boost::asio;

// Pause before accepting again after an accept error such as EMFILE, instead of spinning.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

void Accept(const std::shared_ptr<ServerCore>& core);

// Best effort: tell a client over the connection limit why, then close. Non-blocking.
void RejectOverLimit(internal::Socket& socket) {
  static const std::string kResponse = [] {
    const std::string body = JsonError("too many connections");
    return absl::StrCat("HTTP/1.1 503 Service Unavailable\r\nServer: ptserve\r\n",
                        "Content-Type: application/json\r\nContent-Length: ", body.size(),
                        "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n", body);
  }();
  ::send(socket.native_handle(), kResponse.data(), kResponse.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  error_code ignored;
  socket.shutdown(internal::Socket::shutdown_both, ignored);
  socket.close(ignored);
}

void OnAccept(const std::shared_ptr<ServerCore>& core, error_code ec) {
  if (!core->acceptor || !core->acceptor->is_open()) return;  // StopAccepting
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    // EMFILE, ENFILE, ENOBUFS, ...: retry later; ECONNABORTED and the like: at once.
    core->accept_retry_timer->expires_after(kAcceptRetryDelay);
    core->accept_retry_timer->async_wait([core](error_code wait_ec) {
      if (!wait_ec) Accept(core);
    });
    return;
  }
  internal::Socket socket = std::move(*core->pending_socket);
  core->pending_socket.reset();
  if (core->open_connections.load(std::memory_order_relaxed) >= core->options.max_connections) {
    core->CountRejection(Rejection::kConnectionLimit);
    RejectOverLimit(socket);
  } else {
    error_code ignored;
    socket.set_option(net::ip::tcp::no_delay(true), ignored);
    auto connection = std::make_shared<Connection>(core, std::move(socket));
    if (core->Register(connection.get())) {
      net::post(connection->executor(), [connection] { connection->Start(); });
    } else {
      connection->Close();  // shutting down; not yet touched by any other thread
    }
  }
  Accept(core);
}

// Accepts one connection onto the next io_context (round-robin). Runs on contexts[0].
void Accept(const std::shared_ptr<ServerCore>& core) {
  if (!core->acceptor || !core->acceptor->is_open()) return;
  net::io_context& context = *core->contexts[core->next_context];
  core->next_context = (core->next_context + 1) % core->contexts.size();
  core->pending_socket.emplace(context.get_executor());
  core->acceptor->async_accept(*core->pending_socket,
                               [core](error_code ec) { OnAccept(core, ec); });
}

}  // namespace

const char* RejectionName(Rejection rejection) {
  switch (rejection) {
    case Rejection::kConnectionLimit:
      return "connection_limit";
    case Rejection::kMemoryBudget:
      return "memory_budget";
    case Rejection::kHeaderTooLarge:
      return "header_too_large";
    case Rejection::kChunkExtensionTooLarge:
      return "chunk_extension_too_large";
    case Rejection::kTrailerTooLarge:
      return "trailer_too_large";
    case Rejection::kBodyTooLarge:
      return "body_too_large";
    case Rejection::kMalformed:
      return "malformed";
    case Rejection::kHeaderTimeout:
      return "header_timeout";
    case Rejection::kBodyTimeout:
      return "body_timeout";
    case Rejection::kTlsHandshake:
      return "tls_handshake";
  }
  return "other";
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(
    const Options& options, std::shared_ptr<const Router> router) {
  if (router == nullptr) return absl::InvalidArgumentError("HttpServer: router is null");
  if (options.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("HttpServer: threads must be >= 1, got ", options.threads));
  }
  if (options.header_timeout.count() <= 0 || options.body_timeout.count() <= 0 ||
      options.idle_timeout.count() <= 0 || options.body_rate_grace.count() < 0) {
    return absl::InvalidArgumentError("HttpServer: timeouts must be positive");
  }
  if (options.max_header_bytes < 64 || options.max_header_bytes > (size_t{1} << 30)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HttpServer: max_header_bytes must be in [64, 2^30], got ", options.max_header_bytes));
  }
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HttpServer: port must be in [0, 65535], got ", options.port));
  }
  error_code ec;
  const net::ip::address address = net::ip::make_address(options.address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("HttpServer: invalid listen address '", options.address,
                     "' (an IPv4 or IPv6 literal is expected): ", ec.message()));
  }
  auto core = std::make_shared<ServerCore>(options, std::move(router));
  const net::ip::tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  const std::string where = endpoint.address().is_v6()
                                ? absl::StrCat("[", options.address, "]:", options.port)
                                : absl::StrCat(options.address, ":", options.port);
  internal::Acceptor& acceptor = core->acceptor.emplace(core->contexts[0]->get_executor());
  core->accept_retry_timer.emplace(core->contexts[0]->get_executor());
  auto fail = [&](const char* step) {
    return absl::UnavailableError(
        absl::StrCat("HttpServer: cannot ", step, " ", where, ": ", ec.message()));
  };
  if (acceptor.open(endpoint.protocol(), ec)) return fail("open a socket for");
  // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT; on Linux
  // it does not let two servers listen on one port.
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec)) return fail("configure");
  if (acceptor.bind(endpoint, ec)) return fail("bind");
  if (acceptor.listen(net::socket_base::max_listen_connections, ec)) return fail("listen on");
  const int port = acceptor.local_endpoint(ec).port();
  if (ec) return fail("read the port of");
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(core), port));
}

HttpServer::HttpServer(std::shared_ptr<internal::ServerCore> core, int port)
    : core_(std::move(core)), port_(port) {}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

void HttpServer::Start() {
  MutexLock lock(core_->lifecycle_mu);
  if (core_->started || core_->shut_down) return;
  core_->started = true;
  for (auto& context : core_->contexts) {
    core_->threads.emplace_back([context = context.get()] { context->run(); });
  }
  if (!core_->accepting_stopped) {
    net::post(core_->contexts[0]->get_executor(), [core = core_] { Accept(core); });
  }
}

void HttpServer::StopAccepting() {
  MutexLock lock(core_->lifecycle_mu);
  if (core_->accepting_stopped) return;
  core_->accepting_stopped = true;
  auto close = [core = core_] {
    error_code ignored;
    core->acceptor->close(ignored);  // a pending accept completes with operation_aborted
    core->accept_retry_timer->cancel();
  };
  if (!core_->started) {
    close();
    return;
  }
  // The acceptor belongs to contexts[0]'s thread; close it there and wait, so that the port is
  // closed when this returns.
  std::promise<void> done;
  net::post(core_->contexts[0]->get_executor(), [&] {
    close();
    done.set_value();
  });
  done.get_future().wait();
}

void HttpServer::Shutdown(std::chrono::milliseconds grace) {
  StopAccepting();
  MutexLock lock(core_->lifecycle_mu);
  if (core_->shut_down) return;
  core_->shut_down = true;
  core_->BeginShutdown();  // no new registrations; responses now carry Connection: close
  if (core_->started) {
    for (auto& connection : core_->Snapshot()) {
      net::post(connection->executor(), [connection] { connection->BeginShutdown(); });
    }
    core_->WaitForNoConnections(std::chrono::steady_clock::now() + grace);
    for (auto& connection : core_->Snapshot()) {
      net::post(connection->executor(), [connection] { connection->Close(); });
    }
  }
  // From here on, Responders still held by the application post nothing.
  core_->StopPosting();
  core_->work_guards.clear();
  // Every connection is closed, so each io_context runs out of work (aborted operations,
  // cancelled timers) and its thread returns.
  for (auto& thread : core_->threads) thread.join();
  core_->threads.clear();
}

void HttpServer::SetDraining(bool draining) { core_->set_draining(draining); }

size_t HttpServer::open_connections() const {
  return core_->open_connections.load(std::memory_order_relaxed);
}

uint64_t HttpServer::requests_served() const {
  return core_->requests_served.load(std::memory_order_relaxed);
}

uint64_t HttpServer::rejected(Rejection reason) const {
  return core_->rejected[static_cast<int>(reason)].load(std::memory_order_relaxed);
}

}  // namespace ptserve::http
