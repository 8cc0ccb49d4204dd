#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve::http {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Debian's Abseil has its own absl::string_view (not std::string_view).
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// std::mutex based (not Notification): Debian's libabsl is invisible to ThreadSanitizer.
class Notification {
 public:
  void Notify() {
    std::lock_guard lock(mu_);
    notified_ = true;
    cv_.notify_all();
  }
  bool HasBeenNotified() {
    std::lock_guard lock(mu_);
    return notified_;
  }
  bool WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return notified_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
};

struct ClientResponse {
  int status = 0;
  absl::flat_hash_map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// A blocking HTTP/1.1 client over a raw socket, so tests control the exact bytes (pipelining,
// malformed requests, half-sent bodies). Every read gives up after 5 s.
class TestClient {
 public:
  explicit TestClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~TestClient() { Close(); }

  bool connected() const { return connected_; }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response; nullopt on EOF, timeout or garbage. `head` skips the body (HEAD).
  std::optional<ClientResponse> Read(bool head = false) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    ClientResponse response;
    std::string_view header(buffer_.data(), end);
    const size_t line_end = header.find("\r\n");
    std::string_view status_line = header.substr(0, line_end);
    if (status_line.size() < 12 ||
        !absl::SimpleAtoi(A(status_line.substr(9, 3)), &response.status)) {
      return std::nullopt;
    }
    if (line_end != std::string_view::npos) {
      std::string_view rest = header.substr(line_end + 2);
      while (!rest.empty()) {
        size_t next = rest.find("\r\n");
        std::string_view line = rest.substr(0, next);
        const size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
          response.headers[absl::AsciiStrToLower(A(line.substr(0, colon)))] =
              std::string(absl::StripAsciiWhitespace(A(line.substr(colon + 1))));
        }
        if (next == std::string_view::npos) break;
        rest.remove_prefix(next + 2);
      }
    }
    buffer_.erase(0, end + 4);
    size_t length = 0;
    auto it = response.headers.find("content-length");
    if (!head && it != response.headers.end()) {
      if (!absl::SimpleAtoi(it->second, &length)) return std::nullopt;
    }
    while (buffer_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    response.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return response;
  }

  // True if the server closes the connection (EOF or reset) with no further bytes.
  bool ReadsEof() {
    if (!buffer_.empty()) return false;
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  std::optional<ClientResponse> Get(std::string_view path, std::string_view extra = "") {
    if (!Send(absl::StrCat("GET ", A(path), " HTTP/1.1\r\nHost: test\r\n", A(extra), "\r\n"))) {
      return std::nullopt;
    }
    return Read();
  }

 private:
  bool Fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

HttpResponse Text(std::string body) {
  HttpResponse response;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : router_(std::make_shared<Router>()) {
    router_->Add("GET", "/ping",
                 [](HttpRequest&, std::shared_ptr<Responder> r) { r->Send(Text("pong")); });
    router_->Add("POST", "/echo", [](HttpRequest& request, std::shared_ptr<Responder> r) {
      r->Send(Text(*request.body));
    });
    router_->Add("GET", "/models/{model}/versions/{version}",
                 [](HttpRequest& request, std::shared_ptr<Responder> r) {
                   r->Send(Text(absl::StrCat(A(request.Param("model")), "@",
                                             A(request.Param("version")), "?", request.query)));
                 });
    router_->Add("GET", "/header", [](HttpRequest& request, std::shared_ptr<Responder> r) {
      r->Send(Text(std::string(request.Header("x-test"))));
    });
    // Answers after `ms` milliseconds (query "ms=N") from another thread.
    router_->Add("GET", "/slow", [this](HttpRequest& request, std::shared_ptr<Responder> r) {
      int ms = 0;
      (void)absl::SimpleAtoi(absl::string_view(request.query).substr(3), &ms);
      std::string path = request.target;
      std::lock_guard lock(mu_);
      workers_.emplace_back([r = std::move(r), ms, path] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        r->Send(Text(path));
      });
    });
    // Keeps the responder for the test to answer (or drop).
    router_->Add("GET", "/hold", [this](HttpRequest&, std::shared_ptr<Responder> r) {
      std::lock_guard lock(mu_);
      held_.push_back(std::move(r));
      held_cv_.notify_all();
    });
    router_->Add("GET", "/drop", [](HttpRequest&, std::shared_ptr<Responder>) {});
    router_->Add("GET", "/throw", [](HttpRequest&, std::shared_ptr<Responder>) {
      throw std::runtime_error("boom");
    });
  }

  ~HttpServerTest() override {
    if (server_) server_->Shutdown(0ms);
    std::lock_guard lock(mu_);
    for (auto& worker : workers_) worker.join();
  }

  void StartServer(HttpServer::Options options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    auto server = HttpServer::Create(options, router_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    server_->Start();
  }

  // Waits until `n` responders are held; returns the last one.
  std::shared_ptr<Responder> WaitHeld(size_t n) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(held_cv_.wait_for(lock, 5s, [this, n] { return held_.size() >= n; }));
    return held_.empty() ? nullptr : held_.back();
  }

  std::shared_ptr<Router> router_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::condition_variable held_cv_;
  std::vector<std::thread> workers_;              // guarded by mu_
  std::vector<std::shared_ptr<Responder>> held_;  // guarded by mu_
};

TEST_F(HttpServerTest, ServesRouteWithParamsAndStandardHeaders) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.connected());
  auto response = client.Get("/models/my%20mlp/versions/2?x=1");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "my mlp@2?x=1");
  EXPECT_EQ(response->headers["server"], "ptserve");
  EXPECT_EQ(response->headers["content-type"], "text/plain");
  EXPECT_EQ(response->headers["content-length"], "12");
  EXPECT_FALSE(response->headers["date"].empty());
  EXPECT_FALSE(response->headers.contains("connection"));
}

TEST_F(HttpServerTest, AbsoluteFormTargetIsRoutedByItsPath) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GET http://example.com:80/models/a/versions/1?q HTTP/1.1\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "a@1?q");
}

TEST_F(HttpServerTest, HeadersReachTheHandlerLowerCased) {
  StartServer();
  TestClient client(server_->port());
  auto response = client.Get("/header", "X-TEST: Value 1\r\nx-test: v2\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "Value 1, v2");
}

TEST_F(HttpServerTest, NotFoundAndMethodNotAllowed) {
  StartServer();
  TestClient client(server_->port());
  auto not_found = client.Get("/nope");
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->status, 404);
  EXPECT_EQ(not_found->body, R"({"error":"no route for GET /nope"})");
  EXPECT_EQ(not_found->headers["content-type"], "application/json");
  // The connection stays usable after a 404.
  auto not_allowed = client.Get("/echo");
  ASSERT_TRUE(not_allowed);
  EXPECT_EQ(not_allowed->status, 405);
  EXPECT_EQ(not_allowed->headers["allow"], "POST");
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  TestClient client(server_->port());
  for (int i = 0; i < 10; ++i) {
    auto response = client.Get("/ping");
    ASSERT_TRUE(response) << i;
    EXPECT_EQ(response->body, "pong");
  }
  EXPECT_EQ(server_->open_connections(), 1u);
  EXPECT_EQ(server_->requests_served(), 10u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestClient client(server_->port());
  // The first is slow and answered from another thread; the others must still come after it.
  ASSERT_TRUE(
      client.Send("GET /slow?ms=150 HTTP/1.1\r\nHost: t\r\n\r\n"
                  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                  "GET /slow?ms=10 HTTP/1.1\r\nHost: t\r\n\r\n"
                  "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto first = client.Read();
  auto second = client.Read();
  auto third = client.Read();
  auto fourth = client.Read();
  ASSERT_TRUE(first && second && third && fourth);
  EXPECT_EQ(first->body, "/slow?ms=150");
  EXPECT_EQ(second->body, "hello");
  EXPECT_EQ(third->body, "/slow?ms=10");
  EXPECT_EQ(fourth->body, "pong");
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  TestClient client(server_->port());
  auto response = client.Get("/ping", "Connection: close\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "pong");
  EXPECT_EQ(response->headers["connection"], "close");
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAlive) {
  StartServer();
  {
    TestClient client(server_->port());
    ASSERT_TRUE(client.Send("GET /ping HTTP/1.0\r\n\r\n"));
    auto response = client.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->headers["connection"], "close");
    EXPECT_TRUE(client.ReadsEof());
  }
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->headers["connection"], "keep-alive");
  ASSERT_TRUE(client.Send("GET /ping HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(client.Read());
}

TEST_F(HttpServerTest, ChunkedRequestBody) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(
      client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "hello, world");
}

TEST_F(HttpServerTest, LargeBodyArrivingInPieces) {
  StartServer();
  TestClient client(server_->port());
  const std::string body(3 << 20, 'x');
  ASSERT_TRUE(client.Send(
      absl::StrCat("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ", body.size(), "\r\n\r\n")));
  std::thread sender([&] { client.Send(body); });
  auto response = client.Read();
  sender.join();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body.size(), body.size());
  EXPECT_EQ(response->body, body);
}

TEST_F(HttpServerTest, BodyOverLimitIs413AndCloses) {
  HttpServer::Options options;
  options.max_body_bytes = 1024;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send(absl::StrCat(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", std::string(5000, 'x'))));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_THAT(response->body, HasSubstr("exceeds the limit of 1024 bytes"));
  EXPECT_EQ(response->headers["connection"], "close");
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  HttpServer::Options options;
  options.max_body_bytes = 8;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(
      client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(HttpServerTest, Expect100ContinueGetsAnInterimResponse) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = client.Read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.Send("data"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "data");
}

TEST_F(HttpServerTest, MalformedRequestIs400AndCloses) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("THIS IS NOT HTTP\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_THAT(response->body, HasSubstr("malformed HTTP request"));
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(HttpServerTest, AmbiguousBodyLengthIs400) {
  StartServer();
  for (const char* framing : {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                              "Content-Length: 5\r\nContent-Length: 6\r\n"}) {
    TestClient client(server_->port());
    ASSERT_TRUE(client.Send(
        absl::StrCat("POST /echo HTTP/1.1\r\nHost: t\r\n", framing, "\r\nhello\r\n0\r\n\r\n")));
    auto response = client.Read();
    ASSERT_TRUE(response) << framing;
    EXPECT_EQ(response->status, 400) << framing;
    EXPECT_TRUE(client.ReadsEof());
  }
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send(
      absl::StrCat("GET /ping HTTP/1.1\r\nX-Big: ", std::string(70000, 'a'), "\r\n\r\n")));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
}

TEST_F(HttpServerTest, HeadResponseHasNoBody) {
  router_->Add("HEAD", "/ping",
               [](HttpRequest&, std::shared_ptr<Responder> r) { r->Send(Text("pong")); });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("HEAD /ping HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = client.Read(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->headers["content-length"], "4");
  // No body bytes were sent: the next response parses cleanly.
  auto next = client.Get("/ping");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "pong");
}

TEST_F(HttpServerTest, SendFromAnotherThreadAfterADelay) {
  StartServer();
  TestClient client(server_->port());
  const auto start = std::chrono::steady_clock::now();
  auto response = client.Get("/slow?ms=100");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "/slow?ms=100");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  // And the connection goes on.
  EXPECT_TRUE(client.Get("/ping"));
}

TEST_F(HttpServerTest, DroppedResponderAnswers500) {
  StartServer();
  TestClient client(server_->port());
  auto response = client.Get("/drop");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body, R"({"error":"internal error: no response"})");
  EXPECT_TRUE(client.Get("/ping"));
}

TEST_F(HttpServerTest, HeldResponderDroppedLaterAnswers500) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  WaitHeld(1);
  {
    std::lock_guard lock(mu_);
    held_.clear();  // dropped on this (non-network) thread
  }
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
}

TEST_F(HttpServerTest, ThrowingHandlerAnswers500) {
  StartServer();
  TestClient client(server_->port());
  auto response = client.Get("/throw");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_THAT(response->body, HasSubstr("boom"));
}

TEST_F(HttpServerTest, SecondSendIsIgnored) {
  router_->Add("GET", "/twice", [](HttpRequest&, std::shared_ptr<Responder> r) {
    r->Send(Text("first"));
    r->Send(Text("second"));
  });
  StartServer();
  TestClient client(server_->port());
  auto response = client.Get("/twice");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "first");
  auto next = client.Get("/ping");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "pong");
}

TEST_F(HttpServerTest, ClientDisconnectFiresOnDisconnect) {
  Notification fired;
  router_->Add("GET", "/watch", [&](HttpRequest&, std::shared_ptr<Responder> r) {
    r->OnDisconnect([&fired] { fired.Notify(); });
    std::lock_guard lock(mu_);
    held_.push_back(std::move(r));
    held_cv_.notify_all();
  });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /watch HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::shared_ptr<Responder> responder = WaitHeld(1);
  ASSERT_NE(responder, nullptr);
  EXPECT_FALSE(responder->disconnected());
  client.Close();
  EXPECT_TRUE(fired.WaitFor(5s));
  EXPECT_TRUE(responder->disconnected());
  // A registration after the fact still runs.
  Notification late;
  responder->OnDisconnect([&late] { late.Notify(); });
  EXPECT_TRUE(late.WaitFor(5s));
  responder->Send(Text("too late"));  // dropped, harmlessly
  for (int i = 0; i < 100 && server_->open_connections() > 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(HttpServerTest, OnDisconnectDoesNotFireAfterSend) {
  std::atomic<int> fired{0};
  router_->Add("GET", "/watch", [&](HttpRequest&, std::shared_ptr<Responder> r) {
    r->OnDisconnect([&fired] { ++fired; });
    r->Send(Text("ok"));
  });
  StartServer();
  {
    TestClient client(server_->port());
    ASSERT_TRUE(client.Get("/watch"));
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(fired.load(), 0);
}

TEST_F(HttpServerTest, ManyConcurrentConnections) {
  HttpServer::Options options;
  options.threads = 2;
  StartServer(options);
  constexpr int kConnections = 200;
  constexpr int kRequests = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.emplace_back([&, c] {
      TestClient client(server_->port());
      for (int i = 0; i < kRequests; ++i) {
        const std::string body = absl::StrCat(c, ":", i);
        if (!client.Send(absl::StrCat("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ",
                                      body.size(), "\r\n\r\n", body))) {
          return;
        }
        auto response = client.Read();
        if (response && response->status == 200 && response->body == body) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kConnections * kRequests);
  // The counter moves when a write completes, a moment after the client may have read it.
  for (int i = 0; i < 100 && server_->requests_served() < kConnections * kRequests; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server_->requests_served(), static_cast<uint64_t>(kConnections * kRequests));
}

TEST_F(HttpServerTest, StopAcceptingRefusesNewConnectionsButFinishesInFlight) {
  StartServer();
  TestClient in_flight(server_->port());
  ASSERT_TRUE(in_flight.Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::shared_ptr<Responder> responder = WaitHeld(1);
  server_->StopAccepting();
  TestClient refused(server_->port());
  EXPECT_FALSE(refused.connected());
  responder->Send(Text("done"));
  auto response = in_flight.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "done");
  EXPECT_TRUE(in_flight.Get("/ping"));  // existing connections continue
}

TEST_F(HttpServerTest, ShutdownWithGraceCompletesInFlightAndClosesIdle) {
  StartServer();
  TestClient idle(server_->port());
  ASSERT_TRUE(idle.Get("/ping"));
  TestClient in_flight(server_->port());
  ASSERT_TRUE(in_flight.Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::shared_ptr<Responder> responder = WaitHeld(1);

  const auto start = std::chrono::steady_clock::now();
  std::thread shutdown([&] { server_->Shutdown(5s); });
  EXPECT_TRUE(idle.ReadsEof());  // idle keep-alive connection closed at once
  std::this_thread::sleep_for(100ms);
  responder->Send(Text("finished"));
  auto response = in_flight.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "finished");
  EXPECT_EQ(response->headers["connection"], "close");
  EXPECT_TRUE(in_flight.ReadsEof());
  shutdown.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);  // did not wait out the grace
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(HttpServerTest, ShutdownForceClosesAfterGrace) {
  Notification fired;
  router_->Add("GET", "/watch", [&](HttpRequest&, std::shared_ptr<Responder> r) {
    r->OnDisconnect([&fired] { fired.Notify(); });
    std::lock_guard lock(mu_);
    held_.push_back(std::move(r));
    held_cv_.notify_all();
  });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /watch HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::shared_ptr<Responder> responder = WaitHeld(1);
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown(200ms);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(fired.HasBeenNotified());
  EXPECT_TRUE(responder->disconnected());
  EXPECT_TRUE(client.ReadsEof());
  responder->Send(Text("after shutdown"));  // a no-op, not a crash
  server_.reset();
  responder.reset();  // the last reference to the connection goes after the server
  {
    std::lock_guard lock(mu_);
    held_.clear();
  }
}

TEST_F(HttpServerTest, IdleConnectionTimesOut) {
  HttpServer::Options options;
  options.idle_timeout = 1s;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.Get("/ping"));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.ReadsEof());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
}

TEST_F(HttpServerTest, SlowRequestTimesOut) {
  HttpServer::Options options;
  options.header_timeout = 1s;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /ping HTTP/1.1\r\nHost: t\r\n"));  // header never finished
  const auto start = std::chrono::steady_clock::now();
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 408);
  EXPECT_THAT(response->body, HasSubstr("header"));
  EXPECT_TRUE(client.ReadsEof());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 3s);
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitGet503) {
  HttpServer::Options options;
  options.max_connections = 1;
  StartServer(options);
  TestClient first(server_->port());
  ASSERT_TRUE(first.Get("/ping"));
  TestClient second(server_->port());
  auto response = second.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_TRUE(first.Get("/ping"));
}

TEST_F(HttpServerTest, ConnectionLimitIsCounted) {
  HttpServer::Options options;
  options.max_connections = 1;
  std::atomic<int> reported{0};
  options.on_rejected = [&](Rejection r) {
    if (r == Rejection::kConnectionLimit) ++reported;
  };
  StartServer(options);
  TestClient first(server_->port());
  ASSERT_TRUE(first.Get("/ping"));
  for (int i = 0; i < 3; ++i) {
    TestClient extra(server_->port());
    auto response = extra.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 503);
    EXPECT_EQ(response->headers["retry-after"], "1");
  }
  EXPECT_EQ(server_->rejected(Rejection::kConnectionLimit), 3u);
  EXPECT_EQ(reported.load(), 3);
}

// Sends a chunked POST /header whose trailer carries X-Test: the handler must not see it.
TEST_F(HttpServerTest, TrailerFieldsDoNotOverrideHeaders) {
  router_->Add("POST", "/header", [](HttpRequest& request, std::shared_ptr<Responder> r) {
    r->Send(Text(absl::StrCat(A(request.Header("x-test")), "|", A(request.Header("x-other")),
                              "|", *request.body)));
  });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send(
      "POST /header HTTP/1.1\r\nHost: t\r\nX-Test: header\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nhi\r\n0\r\nX-Test: trailer\r\nX-Other: trailer\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "header||hi");
  EXPECT_TRUE(client.Get("/ping"));  // the connection is still in sync
}

TEST_F(HttpServerTest, OversizedChunkExtensionGets400AndClose) {
  HttpServer::Options options;
  options.max_chunk_extension_bytes = 1024;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext="));
  // Far more extension than allowed, never finishing the line: answered long before the end.
  const std::string filler(64 * 1024, 'e');
  for (int i = 0; i < 32; ++i) {  // 2 MiB: within what the server drains after answering
    if (!client.Send(filler)) break;  // the server may close while we still send
  }
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_THAT(response->body, HasSubstr("chunk extension"));
  EXPECT_EQ(server_->rejected(Rejection::kChunkExtensionTooLarge), 1u);
}

TEST_F(HttpServerTest, OversizedTrailerGets431AndClose) {
  HttpServer::Options options;
  options.max_trailer_bytes = 1024;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "1\r\na\r\n0\r\n"));
  for (int i = 0; i < 200; ++i) {
    if (!client.Send(absl::StrCat("X-T", i, ": ", std::string(1000, 'v'), "\r\n"))) break;
  }
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
  EXPECT_THAT(response->body, HasSubstr("trailer"));
}

TEST_F(HttpServerTest, MemoryBudgetRefusesAtOnceAndIsGivenBack) {
  HttpServer::Options options;
  options.memory_budget = std::make_shared<MemoryBudget>(1000);
  StartServer(options);
  // A body that does not fit is refused from its Content-Length alone.
  TestClient big(server_->port());
  ASSERT_TRUE(big.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n"));
  auto refused = big.Read();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->headers["retry-after"], "1");
  EXPECT_THAT(refused->body, HasSubstr("memory budget"));
  // One that fits while another holds 600 bytes does not; after the answer the bytes are back.
  TestClient holder(server_->port());
  ASSERT_TRUE(holder.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 600\r\n\r\nxx"));
  for (int i = 0; i < 100 && options.memory_budget->used() != 600; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(options.memory_budget->used(), 600u);
  TestClient second(server_->port());
  ASSERT_TRUE(second.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n\r\n"));
  auto over = second.Read();
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 503);
  ASSERT_TRUE(holder.Send(std::string(598, 'x')));
  auto answered = holder.Read();
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->status, 200);
  // Given back once the write completes (just after the client has the response).
  for (int i = 0; i < 100 && options.memory_budget->used() != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(options.memory_budget->used(), 0u);
  TestClient third(server_->port());
  ASSERT_TRUE(third.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  auto fits = third.Read();
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->body, "hello");
  EXPECT_EQ(server_->rejected(Rejection::kMemoryBudget), 2u);
}

TEST_F(HttpServerTest, SlowBodyGets408) {
  HttpServer::Options options;
  options.body_timeout = 1s;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab"));
  const auto start = std::chrono::steady_clock::now();
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 408);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_EQ(server_->rejected(Rejection::kBodyTimeout), 1u);
}

TEST_F(HttpServerTest, BodyBelowMinimumRateGets408) {
  HttpServer::Options options;
  options.body_timeout = 30s;
  options.body_rate_grace = 1s;
  options.min_body_bytes_per_sec = 1000;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"));
  const auto start = std::chrono::steady_clock::now();
  std::optional<ClientResponse> response;
  // A byte every 100 ms: 10 bytes/s, far below the minimum.
  std::thread trickle([&] {
    for (int i = 0; i < 40; ++i) {
      if (!client.Send("x")) return;
      std::this_thread::sleep_for(100ms);
    }
  });
  response = client.Read();
  const auto took = std::chrono::steady_clock::now() - start;
  trickle.join();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 408);
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 2500ms);
}

TEST_F(HttpServerTest, TakenPortIsAnError) {
  StartServer();
  HttpServer::Options options;
  options.address = "127.0.0.1";
  options.port = server_->port();
  auto second = HttpServer::Create(options, router_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat(":", server_->port())));
}

TEST(HttpServerCreateTest, RejectsBadOptions) {
  auto router = std::make_shared<Router>();
  HttpServer::Options options;
  options.port = 0;
  options.threads = 0;
  EXPECT_EQ(HttpServer::Create(options, router).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.threads = 1;
  options.address = "not-an-address";
  EXPECT_EQ(HttpServer::Create(options, router).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.address = "127.0.0.1";
  auto ok = HttpServer::Create(options, router);  // created, never started
  EXPECT_TRUE(ok.ok()) << ok.status();
}

}  // namespace
}  // namespace ptserve::http
