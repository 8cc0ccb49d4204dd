// InferenceApi: the public HTTP endpoints — KServe v2 / Open Inference
// Protocol (health, metadata, inference in JSON and binary tensors) and the
// seed's POST /predict — as routes on an http::Router. Thin: each handler
// decodes with a protocol/ codec, calls the repository's ModelVersion, and
// encodes the answer; nothing here blocks a network thread.
#ifndef PTSERVE_SERVER_INFERENCE_API_H_
#define PTSERVE_SERVER_INFERENCE_API_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/decode_limits.h"
#include "core/clock.h"
#include "core/log_throttle.h"
#include "metrics/inference_metrics.h"
#include "repository/model_repository.h"
#include "server/http/router.h"

namespace ptserve {

// The longest per-request queue timeout passed on (about 142 years): larger ones, up to
// INT64_MAX and beyond in the X-Timeout-Us header, saturate to it, so that adding a timeout to
// a steady_clock time point (nanoseconds) can never overflow. A huge timeout means "none
// earlier than the model's own limits".
inline constexpr int64_t kMaxRequestTimeoutUs = int64_t{1} << 52;

// `timeout_us` clamped to [0, kMaxRequestTimeoutUs].
int64_t SaturateTimeoutUs(int64_t timeout_us);

// The X-Timeout-Us header: "" -> nullopt; decimal digits (optionally '+', surrounding
// whitespace) -> that many microseconds, saturated to kMaxRequestTimeoutUs however many
// digits; anything else (negative, fractions, words) -> InvalidArgument (400).
absl::StatusOr<std::optional<int64_t>> ParseTimeoutHeader(std::string_view value);

class InferenceApi {
 public:
  struct Options {
    std::string server_version = "0.1.0";
    // Model that POST /predict serves.
    std::string default_model;
    DecodeLimits limits;
    // Not owned; null = no metrics and no GET /metrics.
    metrics::InferenceMetrics* metrics = nullptr;
    // Readiness needs at least one ready model (off in explicit mode, where
    // starting empty is normal).
    bool ready_needs_a_model = true;
    // One access-log line per request ("access" logger).
    bool log_requests = false;
    // Requests slower than this are logged as warnings; 0 = never.
    int64_t slow_request_us = 0;
  };

  // `repository` is not owned and must outlive every request.
  InferenceApi(Options options, ModelRepository* repository);

  void Register(http::Router& router);

  // Readiness turns false at once when shutdown starts.
  void SetShuttingDown() { shutting_down_.store(true); }

 private:
  // Where a request goes: a model version, or for a routed name the chosen
  // variant's version plus shadow copies.
  struct Target {
    std::shared_ptr<ModelVersion> version;
    std::shared_ptr<TrafficRouter> router;  // null unless routed
    std::string routed_model;               // the routing model's name, when routed
    std::string variant;
    std::vector<std::pair<std::string, std::shared_ptr<ModelVersion>>> shadows;
    std::shared_ptr<metrics::ModelMetrics> metrics;  // never null
  };
  absl::StatusOr<Target> Resolve(const http::HttpRequest& request, const std::string& name,
                                 const std::string& version) const;
  // Queues `request` on the target and answers through `responder` when done.
  // One inference call as the server saw it arrive.
  struct Call {
    SteadyTime received;
    std::string request_id;  // X-Request-ID: the client's, or generated
  };
  static Call StartCall(const http::HttpRequest& request);
  void Submit(Target target, InferenceRequest request, std::shared_ptr<http::Responder> responder,
              Call call, std::function<http::HttpResponse(InferenceResponse&)> encode);
  // Answers an error found before the request was queued, and counts it.
  void Fail(const Target& target, const absl::Status& status, const Call& call,
            http::Responder& responder);
  // Access log, slow-request and server-error logging.
  void LogRequest(const Target& target, const Call& call, int status, int64_t total_us,
                  const InferenceTiming& timing, const absl::Status& error) const;

  void ServerMetadata(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void ModelMetadata(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void ModelConfig(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void ModelReady(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Infer(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Predict(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);

  const Options options_;
  ModelRepository* const repository_;
  std::atomic<bool> shutting_down_{false};
  // Server errors (5xx) and slow requests are logged at most once a second per model, version and
  // status (or "slow"): under overload every request would otherwise write a warning.
  mutable LogThrottle warning_log_{1'000'000};
};

}  // namespace ptserve

#endif  // PTSERVE_SERVER_INFERENCE_API_H_
