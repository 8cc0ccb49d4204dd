// ManagementApi: the model repository extension (Triton's names):
//   POST /v2/repository/index                 {"ready": bool}? -> [{name, version, state, reason}]
//   POST /v2/repository/models/{m}/load       {"parameters": {"config": "<ModelConfig JSON>"}}?
//   POST /v2/repository/models/{m}/unload
//   POST /v2/repository/models/{m}/routing    {"weights": {"a": 1, "b": 3}}? -> variants + stats
//   POST /v2/repository/models/{m}/profile[?format=trace]
//        {"requests": 10, "timeout_ms": 30000, "version": "1"}?
//        -> operator table by self time + Chrome trace of the next executions
//        (docs/profiling.md)
// Served on its own listener (loopback by default, see main.cc), and
// guarded by a bearer token when one is configured: a call without
// `Authorization: Bearer <token>` gets 401 (compared in constant time).
//
// Every call is also refused when it could come from a web page in a browser
// (docs/security.md), since with no token a page on any site could otherwise
// reach a loopback port:
//   - a Host header naming something other than a loopback name or address
//     (localhost, *.localhost, 127.0.0.0/8, ::1) or the configured
//     management address gets 403 (DNS rebinding); when the management
//     address is a wildcard (0.0.0.0, ::) any IP literal is accepted, never a
//     name;
//   - an Origin header other than the server's own origin ("http://" + the
//     Host header) gets 403 (cross-site requests, including "null");
//   - a non-empty body without `Content-Type: application/json` gets 415 (a
//     page can send text/plain or form bodies without a CORS preflight).
//
// Loading takes seconds (warm-up), so it runs on this API's own worker
// thread, never on a network thread; the HTTP answer comes when it is done.
// A profile answers from the backend's profiler thread once its executions
// are captured (or at its timeout): it holds no thread while it waits.
#ifndef PTSERVE_SERVER_MANAGEMENT_API_H_
#define PTSERVE_SERVER_MANAGEMENT_API_H_

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/work_queue.h"
#include "repository/model_repository.h"
#include "server/http/router.h"

namespace ptserve {

// Exposed for tests. Constant-time (in the secret's length) comparison.
bool SameSecret(std::string_view given, std::string_view secret);
// Whether a Host header value may address the management API bound to `configured_address`.
bool ManagementHostAllowed(std::string_view host, std::string_view configured_address);
// Whether a Content-Type value is application/json (parameters and case ignored).
bool IsJsonContentType(std::string_view content_type);

class ManagementApi {
 public:
  struct Options {
    std::string token;  // "" = no authentication
    // The address the management listener binds (--management-address):
    // accepted in the Host header besides loopback names and addresses.
    std::string address = "127.0.0.1";
    // Registered on the inference port (Triton's clients call the repository extension there;
    // main.cc does so only with a token): any Host is accepted, the token being the guard, and
    // an Origin must be `scheme`://Host.
    bool inference_port = false;
    std::string scheme = "http";
  };
  // `repository` is not owned and must outlive this object.
  ManagementApi(Options options, ModelRepository* repository);
  ~ManagementApi();  // finishes queued work, joins the worker

  void Register(http::Router& router);

 private:
  // The {model} of a route is checked by the repository (ModelRepository::
  // CheckModelName on load and unload; the other calls only look names up).
  // Host, Origin, token and Content-Type checks; answers the refusal itself.
  bool Authorized(const http::HttpRequest& request, http::Responder& responder) const;
  void Index(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Load(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Unload(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Routing(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Profile(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  const Options options_;
  ModelRepository* const repository_;
  // Loads and unloads run here, in order, so that a network thread never waits on one.
  WorkQueue background_;
};

}  // namespace ptserve

#endif  // PTSERVE_SERVER_MANAGEMENT_API_H_
