// ModelVersion: one loaded, ready version of a model. Checks a request
// against the model's declared inputs, orders its inputs for the model,
// queues it on the version's scheduler and assembles the response.
//
// Held by std::shared_ptr: a request in flight keeps its version alive
// (TF Serving's ServableHandle), so the repository may drop a version while
// requests on it finish. Whoever drops the last reference destroys it: that
// drains its scheduler and hands the freed heap back to the system; when
// that is one of the version's own scheduler threads (the callback of its
// last request), the destruction moves to a helper thread, since a
// scheduler cannot join the thread it runs on.
//
// Thread-safe.
#ifndef PTSERVE_REPOSITORY_MODEL_VERSION_H_
#define PTSERVE_REPOSITORY_MODEL_VERSION_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "config/model_config.pb.h"
#include "core/inference.h"
#include "metrics/inference_metrics.h"
#include "scheduler/autotune.h"
#include "scheduler/scheduler.h"

namespace ptserve {

// Per-model bounds on the sizes of input dimensions (config parameters
// MAX_SEQUENCE_LENGTH and MAX_INPUT_DIMS, see repository/model_parameters.h):
// a request over them is InvalidArgument before it is queued.
struct InputDimLimits {
  // Bounds every variable (-1) dimension of every input, and every
  // non-batch dimension of an input whose shape is not declared. 0 = none.
  int64_t max_variable_dim = 0;
  // Per input name, per declared dimension (batch excluded); 0 = none.
  // Replaces max_variable_dim for the inputs it names.
  std::map<std::string, std::vector<int64_t>> per_input;
};

class ModelVersion : public std::enable_shared_from_this<ModelVersion> {
 public:
  // `metrics` is the handle the scheduler records executions on; the
  // version registers its queue gauges with `registry` (may be disabled).
  static std::shared_ptr<ModelVersion> Create(std::string name, int64_t version,
                                              config::ModelConfig config,
                                              std::shared_ptr<LoadedModel> model,
                                              std::unique_ptr<Scheduler> scheduler,
                                              std::shared_ptr<metrics::ModelMetrics> metrics,
                                              metrics::InferenceMetrics& registry,
                                              InputDimLimits limits = {});
  ~ModelVersion();

  // Blocks until every version whose destruction was moved to the helper
  // thread is gone (for tests and shutdown).
  static void WaitForDeferredDestruction();

  // Queues `request`; `done` runs exactly once, later, unless this returns an
  // error (then it never runs): InvalidArgument for a request that does not
  // fit the model (or its InputDimLimits), Unavailable when the queue is
  // full. Whatever the backend throws while the request runs arrives in
  // `done` as an Internal error; an exception from `done` itself is logged.
  absl::StatusOr<uint64_t> Infer(InferenceRequest request, InferenceCallback done);
  // See Scheduler::Cancel.
  bool Cancel(uint64_t ticket) { return scheduler_->Cancel(ticket); }
  // Operator profile of the next executions; see LoadedModel::Profile.
  absl::Status Profile(const profiling::ProfileRequest& request, profiling::ProfileCallback done) {
    return model_->Profile(request, std::move(done));
  }

  const std::string& name() const { return name_; }
  int64_t version() const { return version_; }
  const std::string& version_string() const { return version_string_; }
  const config::ModelConfig& config() const { return config_; }
  bool batched() const { return config_.max_batch_size() > 0; }
  const std::vector<TensorSpec>& inputs() const { return model_->inputs(); }
  const std::vector<TensorSpec>& outputs() const { return model_->outputs(); }
  // See LoadedModel::acceleration_difference.
  std::optional<double> acceleration_difference() const {
    return model_->acceleration_difference();
  }
  // What AUTOTUNE measured and chose at load; nullopt when it did not run.
  const std::optional<AutotuneResult>& autotune() const { return autotune_; }
  // Set once, by the loader, before the version is published.
  void set_autotune(std::optional<AutotuneResult> result) { autotune_ = std::move(result); }
  Scheduler& scheduler() { return *scheduler_; }
  // The scheduler's counters (executions, batches by size); empty before it exists.
  SchedulerStats ExecutionStats() const {
    return scheduler_ ? scheduler_->Stats() : SchedulerStats{};
  }
  // Never null (a disabled handle when metrics are off).
  const std::shared_ptr<metrics::ModelMetrics>& metrics() const { return metrics_; }

 private:
  ModelVersion(std::string name, int64_t version, config::ModelConfig config,
               std::shared_ptr<LoadedModel> model, std::unique_ptr<Scheduler> scheduler,
               std::shared_ptr<metrics::ModelMetrics> metrics, metrics::InferenceMetrics& registry,
               InputDimLimits limits);
  static void Destroy(ModelVersion* version);
  absl::StatusOr<uint64_t> InferUnguarded(InferenceRequest request, InferenceCallback done);
  // InvalidArgument when a dimension of `shape` (input `index`) is over the
  // limits.
  absl::Status CheckLimits(size_t index, const Shape& shape) const;
  // The response for a finished request (may throw std::bad_alloc).
  absl::StatusOr<InferenceResponse> BuildResponse(std::string& id,
                                                  const std::vector<int>& selected,
                                                  const std::vector<bool>& binary,
                                                  bool all_outputs, std::vector<Tensor> outputs,
                                                  const InferenceTiming& timing) const;

  const std::string name_;
  const int64_t version_;
  std::optional<AutotuneResult> autotune_;
  const std::string version_string_;
  const config::ModelConfig config_;
  const InputDimLimits limits_;
  std::shared_ptr<LoadedModel> model_;
  // Declared before the scheduler: it outlives the scheduler's last batch.
  std::shared_ptr<metrics::ModelMetrics> metrics_;
  std::unique_ptr<Scheduler> scheduler_;
  // Declared after: removed before the scheduler its callbacks read.
  metrics::Registration queue_metrics_;
};

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_MODEL_VERSION_H_
