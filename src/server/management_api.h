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
// `Authorization: Bearer <token>` gets 401.
//
// Loading takes seconds (warm-up), so it runs on this API's own worker
// thread, never on a network thread; the HTTP answer comes when it is done.
// A profile answers from the backend's profiler thread once its executions
// are captured (or at its timeout): it holds no thread while it waits.
#ifndef PTSERVE_SERVER_MANAGEMENT_API_H_
#define PTSERVE_SERVER_MANAGEMENT_API_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "repository/model_repository.h"
#include "server/http/router.h"

namespace ptserve {

class ManagementApi {
 public:
  struct Options {
    std::string token;  // "" = no authentication
  };
  // `repository` is not owned and must outlive this object.
  ManagementApi(Options options, ModelRepository* repository);
  ~ManagementApi();  // finishes queued work, joins the worker

  void Register(http::Router& router);

 private:
  // The {model} of a route is checked by the repository (ModelRepository::
  // CheckModelName on load and unload; the other calls only look names up).
  bool Authorized(const http::HttpRequest& request, http::Responder& responder) const;
  void Index(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Load(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Unload(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Routing(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Profile(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void RunInBackground(std::function<void()> work);

  const Options options_;
  ModelRepository* const repository_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> work_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace ptserve

#endif  // PTSERVE_SERVER_MANAGEMENT_API_H_
