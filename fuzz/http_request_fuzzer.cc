// Fuzzes the server's HTTP/1.1 request parsing: the bytes a client sends on one connection,
// parsed exactly as Connection does it (src/server/http/connection.cc): Beast's parser through
// our RequestParser with the server's default limits (HttpServer::Options) and a memory-budget
// reservation, fed from a read buffer that grows by one "read" at a time, the pending bytes of
// a chunked body checked (ChunkedPendingProblem), requests taken one after another from the
// same stream (pipelining), each finished request split into path and query (SplitTarget) and
// dispatched through a Router holding the server's route patterns. A parse error or a
// rejection ends the connection, as it does in the server (4xx and close).
//
// Input layout: the first byte sets the read size (1..256 bytes per read; 0 = all at once),
// the rest is the byte stream.
#include <algorithm>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "server/http/connection.h"
#include "server/http/http_message.h"
#include "server/http/http_server.h"
#include "server/http/memory_budget.h"
#include "server/http/router.h"

namespace {

using ptserve::http::HttpRequest;
using ptserve::http::HttpResponse;
using ptserve::http::Responder;
using ptserve::http::Router;

class NullResponder final : public Responder {
 public:
  void Send(HttpResponse response) override { sent_ = true; }
  bool disconnected() const override { return false; }
  void OnDisconnect(std::function<void()> callback) override {}

 private:
  bool sent_ = false;
};

// What the API handlers read from a request before decoding its body.
void Handle(HttpRequest& request, std::shared_ptr<Responder> responder) {
  size_t total = request.Param("model").size() + request.Param("version").size();
  const std::string_view length = request.Header("inference-header-content-length");
  size_t n = 0;
  if (!length.empty() && absl::SimpleAtoi(absl::string_view(length.data(), length.size()), &n)) {
    total += n;
  }
  total += request.Header("x-timeout-us").size() + request.Header("x-request-id").size() +
           request.body->size();
  responder->Send(HttpResponse{.status = total % 2 ? 200 : 400});
}

const Router& ServerRoutes() {
  static const Router* const router = [] {
    auto* r = new Router();
    // src/server/inference_api.cc and management_api.cc
    for (const char* get : {"/v2/health/live", "/v2/health/ready", "/v2", "/v2/models/{model}",
                            "/v2/models/{model}/versions/{version}", "/v2/models/{model}/config",
                            "/v2/models/{model}/versions/{version}/config",
                            "/v2/models/{model}/ready",
                            "/v2/models/{model}/versions/{version}/ready", "/metrics"}) {
      r->Add("GET", get, Handle);
    }
    for (const char* post : {"/v2/models/{model}/infer", "/v2/models/{model}/versions/{version}/infer",
                             "/predict", "/predict/{model}", "/v2/repository/index",
                             "/v2/repository/models/{model}/load",
                             "/v2/repository/models/{model}/unload",
                             "/v2/repository/models/{model}/routing",
                             "/v2/repository/models/{model}/profile"}) {
      r->Add("POST", post, Handle);
    }
    return r;
  }();
  return *router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t read_size = data[0] == 0 ? size : data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const ptserve::http::HttpServer::Options options;
  ptserve::http::MemoryBudget budget(uint64_t{256} << 20);

  std::string buffer;  // Connection::buffer_: received, not yet consumed
  size_t received = 0;
  HttpRequest request;
  std::string body;
  ptserve::http::MemoryBudget::Reservation reservation(&budget);
  std::optional<ptserve::http::internal::RequestParser> parser;
  auto start_request = [&] {  // Connection::StartRequest
    request.Clear();
    body.clear();
    reservation.Reset();
    parser.emplace(&request, &body,
                   ptserve::http::internal::ParserLimits{
                       .body_bytes = options.max_body_bytes,
                       .header_bytes = options.max_header_bytes,
                       .chunk_extension_bytes = options.max_chunk_extension_bytes,
                       .trailer_bytes = options.max_trailer_bytes,
                       .reservation = &reservation});
  };
  start_request();
  for (int requests = 0; requests < 64;) {
    // Parse what is buffered (Connection::ContinueReading).
    boost::beast::error_code ec;
    while (!buffer.empty() && !parser->is_done()) {
      const size_t used = parser->put(boost::asio::buffer(buffer.data(), buffer.size()), ec);
      buffer.erase(0, used);
      if (ec == boost::beast::http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return 0;  // rejected (4xx) and closed
      if (used == 0) break;
    }
    if (parser->is_done()) {
      // Connection::Dispatch
      (void)parser->keep_alive();
      ptserve::http::internal::SplitTarget(request);
      request.body = std::make_shared<const std::string>(std::move(body));
      ServerRoutes().Dispatch(request, std::make_shared<NullResponder>());
      ++requests;
      start_request();
      continue;
    }
    if (parser->is_header_done() && parser->chunked() && !buffer.empty() &&
        ptserve::http::internal::ChunkedPendingProblem(buffer, options.max_chunk_extension_bytes,
                                                       options.max_trailer_bytes)) {
      return 0;  // rejected (431) and closed
    }
    if (received == stream.size()) return 0;  // EOF mid-request: the connection closes
    const size_t n = std::min(read_size, stream.size() - received);
    buffer.append(stream.substr(received, n));
    received += n;
  }
  return 0;
}
