// A table of routes: (method, path pattern) -> handler.
//
//   auto router = std::make_shared<Router>();
//   router->Add("GET", "/v2/health/ready", HealthReady);
//   router->Add("POST", "/v2/models/{model}/versions/{version}/infer",
//               [](HttpRequest& request, std::shared_ptr<Responder> responder) {
//                 std::string_view model = request.Param("model");
//                 ...
//               });
//   auto server = HttpServer::Create(options, std::move(router));
//
// Patterns are '/'-separated segments; a segment is either literal text or `{name}`, which
// matches one non-empty path segment. Matching is on whole segments, so "%2F" in a request
// never creates a new segment: it decodes to '/' inside the parameter value. Validating the
// decoded values (names with '/' or "..") is the application's job.
//
// When several patterns match a path, the one with a literal segment at the first position
// where they differ wins ("/models/stats" before "/models/{name}"). No pattern matches the
// path: 404 {"error":"no route for GET /x"}. Some pattern matches the path but none with the
// request's method: 405 with an `Allow` header.
#ifndef PTSERVE_SERVER_HTTP_ROUTER_H_
#define PTSERVE_SERVER_HTTP_ROUTER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/http_message.h"

namespace ptserve::http {

// Handles one request. Runs on a network thread: it must not block (no inference, no disk,
// no locks held for long); hand long work off and answer later through the Responder.
using Handler = std::function<void(HttpRequest& request, std::shared_ptr<Responder> responder)>;

// Thread-safety: Add is not thread-safe and must happen before the router is shared;
// Dispatch is const and may run concurrently on any number of threads.
class Router {
 public:
  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Adds a route. `pattern` must start with '/'; a `{name}` must be a whole segment with a
  // non-empty name unique within the pattern. An invalid pattern, or a (method, pattern) pair
  // added twice, is a programming error: the process aborts with a message.
  void Add(std::string method, std::string pattern, Handler handler);

  // Finds the route for request.method and request.path, fills request.path_params and runs
  // its handler on the calling thread; or answers 404/405 (or 400 for a bad percent-escape
  // in a parameter) through `responder`.
  void Dispatch(HttpRequest& request, std::shared_ptr<Responder> responder) const;

  size_t size() const { return routes_.size(); }

 private:
  struct Segment {
    std::string text;  // the literal, or the parameter's name
    bool is_param = false;
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };

  std::vector<Route> routes_;  // most specific first (see Add)
};

// Decodes %XX escapes in `in` into `out` ('+' is kept: this is for paths). Returns false on a
// malformed escape. Exposed for tests.
bool PercentDecode(std::string_view in, std::string* out);

}  // namespace ptserve::http

#endif  // PTSERVE_SERVER_HTTP_ROUTER_H_
