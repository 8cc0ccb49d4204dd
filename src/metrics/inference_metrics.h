// InferenceMetrics: ptserve's metrics, named the Prometheus way (base units,
// `_total` counters, `_seconds` histograms), with the facts Triton users know
// from nv_inference_* (see shared/PROTOCOLS.md), plus histograms.
//
//   metrics::InferenceMetrics metrics({.enabled = true});
//   // Once per model version (and A/B variant); keep the pointer:
//   std::shared_ptr<metrics::ModelMetrics> m = metrics.ForModel("mlp", "1");
//   m->RecordExecution(/*batch_rows=*/12);                     // per batch run
//   m->RecordRequest(metrics::Outcome::kSuccess, total_us, queue_us, compute_us);
//   std::string text = metrics.Scrape();                        // GET /metrics
//
// Series (label sets in braces):
//   ptserve_inference_requests_total{model,version,variant,outcome}     counter
//       outcome: success | client_error | server_error | rejected | timed_out | cancelled
//   ptserve_inference_request_duration_seconds{model,version,variant}   histogram
//   ptserve_inference_queue_duration_seconds{model,version,variant}     histogram
//   ptserve_inference_compute_duration_seconds{model,version,variant}   histogram
//       (the three histograms observe successful requests only; failures are
//        counted by outcome)
//   ptserve_inference_executions_total{model,version}                   counter
//   ptserve_inference_rows_total{model,version}                         counter
//   ptserve_inference_batch_size{model,version}                         histogram
//   ptserve_inference_queue_depth{model,version}                        gauge (scrape time)
//   ptserve_inference_in_flight{model,version}                          gauge (scrape time)
//   ptserve_inference_queue_capacity{model,version}                     gauge
//   ptserve_model_state{model,version,state}        gauge, 1 for the current state, else 0
//   ptserve_model_load_duration_seconds{model,version}                  gauge
//   ptserve_model_acceleration_difference{model,version}                gauge
//   ptserve_model_autotune_setting{model,version,setting}               gauge (AUTOTUNE's choice:
//       setting = instances | intra_op_threads | batch_size)
//   ptserve_model_autotune_rows_per_second{model,version}               gauge (measured in-process)
//   ptserve_model_autotune_seconds{model,version}                       gauge (the tuning's time)
//       (relative L2 difference of the served module's outputs from the
//        original's on the load-time samples; absent when not measured)
//   ptserve_shadow_output_difference{model,shadow}                      histogram
//       (largest |primary - shadow| of each compared shadow answer, per
//        routed model and shadow variant)
//   ptserve_http_requests_total{code}                                   counter
//   ptserve_http_open_connections                                       gauge (scrape time)
//   process_* (process_metrics.h), ptserve_gpu_* (gpu_metrics.h, when NVML is present)
//
// Cost: ForModel/Register*/Set* take a mutex (do them at load time); the
// Record* calls are a few relaxed atomic adds and no locks. With
// `enabled = false` every Record* is one predictable branch and Scrape() is "".
//
// Lifetime: a ModelMetrics is shared by everyone who asked for the same
// (model, version, variant) and its series are exported while anyone holds
// it; when the last holder lets go (the ModelVersion is destroyed after its
// last request) its series disappear from the scrape. No explicit removal is
// needed, and a reload of the same version keeps counting where it was.
// ModelMetrics and Registrations may outlive the InferenceMetrics.
//
// Thread-safety: every method may be called from any thread.
#ifndef PTSERVE_METRICS_INFERENCE_METRICS_H_
#define PTSERVE_METRICS_INFERENCE_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/inference.h"
#include "core/model_state.h"
#include "core/status_class.h"
#include "metrics/metrics.h"
#include "metrics/registry.h"

namespace ptserve::metrics {

// The label of a request's outcome (core/status_class.h classes each Status).
using Outcome = RequestOutcome;
inline constexpr int kOutcomeCount = 6;

// "success", "client_error", "server_error", "rejected", "timed_out", "cancelled".
const char* OutcomeName(Outcome outcome);

// The outcome of a request answered with `status`: ClassOf(status).outcome.
inline Outcome OutcomeFor(const absl::Status& status) { return ClassOf(status).outcome; }

// The model-state metric's states (core/model_state.h).
using ::ptserve::kModelStateCount;
using ::ptserve::ModelState;
using ::ptserve::ModelStateName;

// The setting AUTOTUNE chose for a model version (scheduler/autotune.h) and
// what it measured.
struct AutotuneChoice {
  int instances = 1;
  int intra_op_threads = 1;
  int64_t batch_size = 1;
  double rows_per_second = 0;
  double seconds = 0;
};

class InferenceMetrics;

// The hot-path handle for one (model, version, variant). Get it from
// InferenceMetrics::ForModel, keep it beside the model version, call Record*
// from any thread. Never null; a disabled one records nothing.
class ModelMetrics {
 public:
  ~ModelMetrics();
  ModelMetrics(const ModelMetrics&) = delete;
  ModelMetrics& operator=(const ModelMetrics&) = delete;

  // One request answered. `total_us`: from the request's arrival to its
  // response being handed to the transport; `queue_us`, `compute_us`: as in
  // InferenceTiming. Every outcome is counted; the duration histograms
  // observe successful requests only, so for a failure only `outcome`
  // matters (pass 0 for what is not known).
  void RecordRequest(Outcome outcome, int64_t total_us, int64_t queue_us, int64_t compute_us) {
    if (!enabled_) return;
    requests_[static_cast<int>(outcome)]->Increment();
    if (outcome != Outcome::kSuccess) return;
    request_duration_->ObserveMicros(total_us);
    queue_duration_->ObserveMicros(queue_us);
    compute_duration_->ObserveMicros(compute_us);
  }
  void RecordRequest(Outcome outcome, int64_t total_us, const InferenceTiming& timing) {
    RecordRequest(outcome, total_us, timing.queue_us, timing.compute_us);
  }

  // One batch executed on the model (once per batch, not per request):
  // executions_total += 1, rows_total += batch_rows, batch_size observes it.
  void RecordExecution(int64_t batch_rows) {
    if (!enabled_) return;
    executions_->Increment();
    rows_->Increment(static_cast<uint64_t>(batch_rows));
    batch_size_->Observe(static_cast<double>(batch_rows));
  }

  bool enabled() const { return enabled_; }

 private:
  friend class InferenceMetrics;
  struct State;
  struct Executions;
  ModelMetrics() = default;  // disabled

  bool enabled_ = false;
  // Raw pointers for the hot path; owned through `owned_` / `executions_owner_`.
  Counter* requests_[kOutcomeCount] = {};
  Histogram* request_duration_ = nullptr;
  Histogram* queue_duration_ = nullptr;
  Histogram* compute_duration_ = nullptr;
  Counter* executions_ = nullptr;
  Counter* rows_ = nullptr;
  Histogram* batch_size_ = nullptr;

  std::shared_ptr<State> state_;
  std::vector<std::string> labels_;  // model, version, variant
  std::shared_ptr<Counter> owned_requests_[kOutcomeCount];
  std::shared_ptr<Histogram> owned_request_duration_, owned_queue_duration_,
      owned_compute_duration_;
  std::shared_ptr<Executions> executions_owner_;  // shared by every variant of a version
};

class InferenceMetrics {
 public:
  struct Options {
    // false: ForModel returns a no-op, Register* nothing, Scrape() "".
    bool enabled = true;
    // process_* from /proc.
    bool process_metrics = true;
    // ptserve_gpu_* when libnvidia-ml.so.1 loads and sees a GPU.
    bool gpu_metrics = true;
    std::string nvml_library = "libnvidia-ml.so.1";
    // Bucket bounds of the three duration histograms (seconds) and of the
    // batch size histogram.
    std::vector<double> duration_buckets = DurationBuckets();
    std::vector<double> batch_size_buckets = BatchSizeBuckets();
  };

  explicit InferenceMetrics(Options options);
  InferenceMetrics() : InferenceMetrics(Options()) {}
  ~InferenceMetrics();
  InferenceMetrics(const InferenceMetrics&) = delete;
  InferenceMetrics& operator=(const InferenceMetrics&) = delete;

  bool enabled() const { return enabled_; }

  // The handle for (model, version, variant); the same object for as long as
  // someone holds it. The A/B variant is "" unless routing sets one.
  std::shared_ptr<ModelMetrics> ForModel(const std::string& model, const std::string& version,
                                         const std::string& variant = "");

  // Queue gauges of one model version, read at scrape time: `depth` (requests
  // waiting), `in_flight` (in batches running now) and the constant
  // `capacity` (the queue's bound: makes "depth > 80% of capacity" alerts
  // possible). The callbacks run on the scraping thread with a metrics mutex
  // held: they must be quick and must not call into InferenceMetrics. Keep the
  // Registration no longer than what the callbacks capture (e.g. declare it
  // after the scheduler it reads, so it is destroyed first).
  [[nodiscard]] Registration RegisterQueue(const std::string& model, const std::string& version,
                                           double capacity, std::function<double()> depth,
                                           std::function<double()> in_flight);

  // ptserve_model_state: 1 for `state`, 0 for the other states.
  void SetModelState(const std::string& model, const std::string& version, ModelState state);
  // ptserve_model_load_duration_seconds: load plus warm-up of the version.
  void SetModelLoadDuration(const std::string& model, const std::string& version,
                            double seconds);
  // ptserve_model_acceleration_difference; nullopt removes the series.
  void SetAccelerationDifference(const std::string& model, const std::string& version,
                                 std::optional<double> difference);
  // ptserve_model_autotune_*: what AUTOTUNE chose at load; nullopt removes the series.
  void SetAutotune(const std::string& model, const std::string& version,
                   const std::optional<AutotuneChoice>& choice);
  // One shadow answer compared with the primary's.
  void RecordShadowDifference(const std::string& routed_model, const std::string& shadow,
                              double max_abs_difference);
  // Drops the model_state, load_duration and acceleration series of a version that is gone
  // for good (no longer in the repository), so old versions do not pile up.
  void RemoveModelVersion(const std::string& model, const std::string& version);

  // One HTTP response of `code`, any route (ptserve_http_requests_total).
  void RecordHttpResponse(int code);
  // ptserve_http_open_connections, read at scrape time.
  [[nodiscard]] Registration RegisterHttpConnections(std::function<double()> open_connections);

  // Everything: inference, model, HTTP, process and GPU metrics, in text
  // format 0.0.4 (Content-Type: kTextContentType).
  std::string Scrape() const;

  // For extra families; null when disabled.
  Registry* registry();

 private:
  const bool enabled_;
  std::shared_ptr<ModelMetrics::State> state_;  // null when disabled
};

}  // namespace ptserve::metrics

#endif  // PTSERVE_METRICS_INFERENCE_METRICS_H_
