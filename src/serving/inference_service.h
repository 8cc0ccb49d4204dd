// InferenceService: the one place an inference request is served, whatever
// protocol carried it. HTTP (server/inference_api) and gRPC (server/grpc_server)
// decode their wire format into an InferenceRequest, call Infer(), and encode
// what comes back; everything in between happens here:
//
//   - target resolution: model name and version -> a ModelVersion, or for a
//     routed name (A/B split) the chosen variant's version plus its shadows;
//   - shadows: each gets a copy of the request; its latency and the largest
//     difference of its first output from the primary's are recorded;
//   - deadlines: a per-request timeout saturated to kMaxRequestTimeoutUs;
//   - per-request metrics (ptserve_inference_requests_total{outcome} and the
//     duration histograms) and logs (access line, throttled warnings for
//     server errors and slow requests).
//
//   InferenceService service(options, repository);
//   InferenceService::Call call = service.StartCall(request_id, headers);
//   service.Infer(call, "mlp", "", std::move(request),
//                 [](const absl::StatusOr<InferenceResponse>& r, const ServedBy& by) {...});
//
// Nothing here knows a protocol: request metadata (HTTP headers, gRPC
// metadata) is read through a HeaderLookup with lower-case names
// ("x-routing-key", "x-variant"), and statuses stay absl::Status (each front
// end maps them with its own table, server/http_status.h, server/grpc_status.h).
//
// Thread-safe. Infer() never blocks: the answer arrives on the scheduler's
// thread (or at once, on the caller's thread, for a request refused before it
// was queued).
#ifndef PTSERVE_SERVING_INFERENCE_SERVICE_H_
#define PTSERVE_SERVING_INFERENCE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "core/inference.h"
#include "core/log_throttle.h"
#include "metrics/inference_metrics.h"
#include "protocol/model_metadata.h"
#include "protocol/model_statistics.h"
#include "repository/model_repository.h"
#include "serving/request_statistics.h"

namespace ptserve {

// The longest per-request queue timeout passed on (about 142 years): larger ones, up to
// INT64_MAX and beyond in the X-Timeout-Us header, saturate to it, so that adding a timeout to
// a steady_clock time point (nanoseconds) can never overflow. A huge timeout means "none
// earlier than the model's own limits".
inline constexpr int64_t kMaxRequestTimeoutUs = int64_t{1} << 52;

// `timeout_us` clamped to [0, kMaxRequestTimeoutUs].
int64_t SaturateTimeoutUs(int64_t timeout_us);

// The X-Timeout-Us header (or gRPC metadata): "" -> nullopt; decimal digits (optionally '+',
// surrounding whitespace) -> that many microseconds, saturated to kMaxRequestTimeoutUs however
// many digits; anything else (negative, fractions, words) -> InvalidArgument.
absl::StatusOr<std::optional<int64_t>> ParseTimeoutHeader(std::string_view value);

// True for statuses that are the server's fault or its refusal (HTTP 5xx: unavailable, deadline
// exceeded, unimplemented, internal, ...); false for OK and for the client's errors.
bool IsServerError(const absl::Status& status);

// A request's metadata by lower-case name ("" when absent).
using HeaderLookup = std::function<std::string(std::string_view name)>;

class InferenceService {
 public:
  struct Options {
    std::string server_version = "0.1.0";
    // Not owned; null = no metrics.
    metrics::InferenceMetrics* metrics = nullptr;
    // Readiness needs at least one ready model (off in explicit mode, where
    // starting empty is normal).
    bool ready_needs_a_model = true;
    // One access-log line per request ("access" logger).
    bool log_requests = false;
    // Requests slower than this are logged as warnings; 0 = never.
    int64_t slow_request_us = 0;
    // The repository extension is served on the inference port(s): listed in Metadata().
    bool repository_extension = false;
  };

  // `repository` is not owned and must outlive every request. The service itself must outlive
  // every request too, including the moment after its `done` callback ran (metrics, statistics
  // and logs are recorded then, on the scheduler's thread): destroy it only after the
  // repository's versions are drained (ModelRepository::UnloadAll).
  InferenceService(Options options, ModelRepository* repository);

  // One inference call as the server saw it arrive.
  // How a front end names a status in logs ("200", "INVALID_ARGUMENT").
  using StatusName = std::string (*)(const absl::Status&);
  struct Call {
    SteadyTime received;
    std::string request_id;            // the client's (X-Request-ID) or generated
    std::string protocol;              // "http", "grpc": shown in the access log unless "http"
    StatusName status_name = nullptr;  // null: the absl code's name
  };
  static Call StartCall(std::string request_id, std::string protocol, StatusName status_name);

  // Where a request was served, for the front end's answer (X-Variant, ...).
  struct ServedBy {
    std::string model;
    std::string version;
    std::string variant;  // "" unless the name routes traffic
  };
  // Runs exactly once, with the answer or the reason there is none. Called
  // before the request's metrics and log line are recorded.
  using Done = std::function<void(absl::StatusOr<InferenceResponse>, const ServedBy&)>;
  // Cancels a queued request (the client went away); false when it already
  // runs or ran. Safe to call any number of times, from any thread.
  using Cancel = std::function<bool()>;

  // Serves `request` on model `name` (`version` "" = by version policy, or a
  // routed name's variant). `prepare` runs once the target is resolved and
  // before the request is queued (HTTP decodes its body there, so that a bad
  // body is counted on the model); an error from it fails the request.
  // Unknown model names answer NotFound through `done` without being counted
  // (names are unbounded). Returns the way to cancel the queued request, or
  // null when `done` has already run.
  Cancel Infer(const Call& call, const std::string& name, const std::string& version,
               const HeaderLookup& headers,
               std::function<absl::StatusOr<InferenceRequest>(const ModelVersion&)> prepare,
               Done done);
  // Infer() for a request decoded already.
  Cancel Infer(const Call& call, const std::string& name, const std::string& version,
               const HeaderLookup& headers, InferenceRequest request, Done done);

  // Health: the server is live while the process runs; ready once every
  // model that should serve is serving (see ModelRepository::AllReady) and
  // until shutdown starts. OK or Unavailable with the reason.
  absl::Status Ready() const;
  // Readiness turns false at once when shutdown starts.
  void SetShuttingDown() { shutting_down_.store(true); }
  bool shutting_down() const { return shutting_down_.load(); }

  // OK when model `name` (version) can serve, else NotFound/Unavailable.
  absl::Status ModelReady(const std::string& name, const std::string& version,
                          const HeaderLookup& headers) const;
  ServerMetadata Metadata() const;
  absl::StatusOr<ModelMetadata> Metadata(const std::string& name, const std::string& version,
                                         const HeaderLookup& headers) const;
  // Request statistics of every loaded version of model `name` ("" = every model; `version`
  // "" = every loaded version), counted by this service since start. NotFound for an unknown
  // model or version. Routed names are not models: their traffic counts on the variants.
  absl::StatusOr<std::vector<ModelStatistics>> Statistics(const std::string& name,
                                                          const std::string& version) const;
  // The model's config (not routed names).
  absl::StatusOr<std::shared_ptr<ModelVersion>> Version(const std::string& name,
                                                        const std::string& version) const;

  ModelRepository& repository() const { return *repository_; }
  const Options& options() const { return options_; }

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
  absl::StatusOr<Target> Resolve(const std::string& name, const std::string& version,
                                 const HeaderLookup& headers) const;
  Cancel Submit(Target target, InferenceRequest request, const Call& call, Done done);
  // Answers an error found before the request was queued, and counts it.
  void Fail(const Target& target, const absl::Status& status, const Call& call, const Done& done);
  // Metrics, access log, slow-request and server-error logging.
  void Record(const Target& target, const Call& call, const absl::Status& status,
              const InferenceTiming& timing, int64_t rows);

  const Options options_;
  ModelRepository* const repository_;
  std::atomic<bool> shutting_down_{false};
  RequestStatistics statistics_;
  // Server errors and slow requests are logged at most once a second per model, version and
  // status (or "slow"): under overload every request would otherwise write a warning.
  mutable LogThrottle warning_log_{1'000'000};
};

}  // namespace ptserve

#endif  // PTSERVE_SERVING_INFERENCE_SERVICE_H_
