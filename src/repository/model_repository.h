// ModelRepository: the models on disk (Triton's layout,
// <root>/<model>/config.pbtxt + <root>/<model>/<version>/model.pt), which of
// their versions are loaded, and lookup by name and version.
//
//   auto repo = ModelRepository::Create(options).value();
//   repo->LoadAll();                         // failures recorded, not fatal
//   auto version = repo->Get("mlp", "");     // the newest ready version
//
// Loading happens beside serving: a model's new versions load and warm up
// while the old ones keep serving, then the map is swapped; a version in use
// lives on until its last request finishes. One broken model never stops the
// others. Thread-safe.
//
// What to load comes from load_plan.h (config -> versions, scheduler options,
// instance placements), the warm-up from warmup.h; this class runs the loads
// and keeps each version's state (core/model_state.h) and lifetime.
#ifndef PTSERVE_REPOSITORY_MODEL_REPOSITORY_H_
#define PTSERVE_REPOSITORY_MODEL_REPOSITORY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "core/model_state.h"
#include "core/mutex.h"
#include "repository/model_version.h"
#include "repository/traffic_router.h"
#include "scheduler/cpu_budget.h"

namespace ptserve {

struct RepositoryIndexEntry {
  std::string name;
  std::string version;  // "" when the model failed before versions were known
  ModelState state = ModelState::kUnloaded;
  std::string reason;   // why not ready
};

class ModelRepository {
 public:
  struct Options {
    std::string root;             // the model repository directory
    Backend* backend = nullptr;   // not owned; outlives the repository
    int available_cpus = 1;       // for default intra-op thread counts
    // libtorch's inter-op pool size (process-wide, the server's --inter-op-threads): a
    // model's INTER_OP_THREAD_COUNT must equal it. 0 = not checked.
    int inter_op_threads = 0;
    size_t default_max_queue_size = 1024;  // when the config sets none
    // CPU slots shared by every model's executions; null = unlimited.
    std::shared_ptr<CpuBudget> cpu_budget;
    // Not owned; null = metrics off.
    metrics::InferenceMetrics* metrics = nullptr;
    // Bounds on each batch's input tensors, padding included (the server's
    // --max-tensor-elements; see SchedulerOptions::max_batch_elements).
    int64_t max_tensor_elements = int64_t{1} << 28;
    int64_t max_batch_bytes = int64_t{1} << 31;
    // Readiness (Triton's --strict-readiness): true = AllReady() only when
    // every model that should serve is serving; false = AllReady() always
    // (the server is ready once it is up, whatever the models).
    bool strict_readiness = true;
    // SchedulerOptions::inline_when_idle and worker_spin_us for every model
    // (the server's --inline-execution and --worker-spin-us).
    bool inline_when_idle = false;
    int64_t worker_spin_us = 0;
    // The measuring time a model with AUTOTUNE gets at each load (the
    // server's --autotune-budget-ms).
    int64_t autotune_budget_ms = 3000;
    // See ModelAutotuneOptions::exchange_blas_threads (the server's is
    // ExchangeBlasThreads); null = the BLAS pool is left as it is.
    std::function<int(int threads)> exchange_blas_threads;
    // Loads an operator library (the server's OperatorLibraries::Load) named
    // by a model's OPERATOR_LIBRARIES parameter, before the model loads: the
    // resolved path, and who asks ("model 'det'"). Must be thread-safe and
    // idempotent. Null: such a model fails to load, saying so.
    std::function<absl::Status(const std::string& path, const std::string& origin)>
        load_operator_library;
  };

  static absl::StatusOr<std::unique_ptr<ModelRepository>> Create(Options options);
  ~ModelRepository();

  const std::string& root() const { return options_.root; }

  // Names of the model directories under root, sorted.
  std::vector<std::string> ListModels() const;

  // Loads every model in the repository; returns how many failed.
  int LoadAll();

  // Loads (or reloads) one model: every version its version policy selects.
  // On error the model's previous versions, if any, keep serving. Failures
  // stay local, whatever their cause (a bad config, a broken file, an
  // exception such as std::bad_alloc or std::system_error from a backend or
  // from starting threads): the error is returned, logged, and shown in the
  // index and the metrics. NotFound for a name with no directory in the
  // repository (and nothing is recorded for it, so it never affects
  // readiness). `config_override` (Triton's load API) replaces the model's
  // config.pbtxt.
  absl::Status Load(const std::string& name,
                    const std::optional<config::ModelConfig>& config_override = std::nullopt);

  // Stops routing to the model; its versions finish their queued requests.
  absl::Status Unload(const std::string& name);

  // The version to serve `name`: `version` "" means the highest ready
  // version. NotFound for an unknown model or version, Unavailable for one
  // that is not ready.
  absl::StatusOr<std::shared_ptr<ModelVersion>> Get(const std::string& name,
                                                    const std::string& version) const;

  // The router of a routed model name (A/B split), or null.
  std::shared_ptr<TrafficRouter> Router(const std::string& name) const;

  // Every loaded version, newest first per model.
  std::vector<std::shared_ptr<ModelVersion>> Versions(const std::string& name) const;

  std::vector<RepositoryIndexEntry> Index(bool ready_only) const;

  // Readiness of the models for GET /v2/health/ready, as Triton decides it.
  // Strict (the default): true when every model that should serve is
  // serving: each model whose load was asked for (and that was not unloaded
  // since) has a ready version or routes traffic, and none is loading. A
  // failed load of a name that is not in the repository does not count, nor
  // does a failed reload while the previous versions keep serving.
  // Not strict (Options::strict_readiness false): always true.
  bool AllReady() const;
  // True when at least one model (or router) is serving. No disk access.
  bool AnyReady() const;

  // Drains and drops every model (shutdown).
  void UnloadAll();

  // Checks a model name taken from a request or the API: one plain path
  // component, no "..", "/" or leading ".".
  static absl::Status CheckModelName(const std::string& name);

  // The state the model-state metric shows for `version` of `name` ("" for
  // the model as a whole, when it failed before its versions were known);
  // nullopt when none was recorded.
  std::optional<ModelState> VersionState(const std::string& name, const std::string& version) const;
  // State changes the state machine (core/model_state.h) does not allow:
  // a bug, logged when it happens; tests assert there are none.
  int64_t invalid_transitions() const;

 private:
  struct ModelEntry {
    std::map<int64_t, std::shared_ptr<ModelVersion>> versions;  // ready ones
    std::vector<RepositoryIndexEntry> status;                     // per version
    std::shared_ptr<TrafficRouter> router;  // set for a routed name (no versions)
    bool loading = false;
    // Should serve: its load was asked for and it was not unloaded since.
    bool wanted = false;
  };

  // Load() without the exception guard.
  absl::Status LoadUnguarded(const std::string& name,
                             const std::optional<config::ModelConfig>& config_override);

  // Moves `version` of `name` to `state`: the state machine and the metric.
  void RecordState(const std::string& name, const std::string& version, ModelState state);
  // Forgets the state of `version` of `name` (and its metric series).
  void ForgetState(const std::string& name, const std::string& version);

  explicit ModelRepository(Options options);

  Options options_;
  metrics::InferenceMetrics disabled_metrics_{metrics::InferenceMetrics::Options{.enabled = false}};
  mutable SharedMutex mu_;
  std::map<std::string, ModelEntry> models_ ABSL_GUARDED_BY(mu_);
  Mutex load_mu_;  // one load at a time
  mutable Mutex states_mu_;
  std::map<std::pair<std::string, std::string>, ModelState> states_ ABSL_GUARDED_BY(states_mu_);
  int64_t invalid_transitions_ ABSL_GUARDED_BY(states_mu_) = 0;
};

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_MODEL_REPOSITORY_H_
