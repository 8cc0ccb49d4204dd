// Self-tuning at load (config parameter AUTOTUNE): measures a loaded model
// with scheduler/autotune.h and writes the setting it chooses into the load
// plan, as the config fields that serve it (instance_group, the
// INTRA_OP_THREAD_COUNT parameter, dynamic_batching's preferred_batch_size),
// so /v2/models/{m}/config shows it and ptserve-tune --write can save it.
//
//   ASSIGN_OR_RETURN(AutotuneResult tuned, AutotuneModel(plan, *model, warmup_runs, options));
#ifndef PTSERVE_REPOSITORY_MODEL_AUTOTUNE_H_
#define PTSERVE_REPOSITORY_MODEL_AUTOTUNE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "config/model_config.h"
#include "repository/load_plan.h"
#include "repository/warmup.h"
#include "scheduler/autotune.h"

namespace ptserve {

struct ModelAutotuneOptions {
  int cpus = 1;
  int64_t budget_ms = 3000;
  int64_t max_tensor_elements = int64_t{1} << 28;  // bounds the batches it builds
  // Sets the process's BLAS pool to exactly n threads and returns the size it
  // had (backend/blas_threads.h ExchangeBlasThreads); null = not sized. Each
  // layout is measured with the pool its instances would get alone, and the
  // old size is put back after, so the choice is served as it was measured.
  std::function<int(int threads)> exchange_blas_threads;
};

// Tunes `model` for `plan` (whose params.autotune asked) and applies the
// choice to `plan` (config and params). It measures with the first one-row
// request of `warmup` (repository/warmup.h; gathered B times for batch B).
// An error says why it could not tune (no such request, an execution that
// failed); the caller decides whether that fails the load.
absl::StatusOr<AutotuneResult> AutotuneModel(LoadPlan& plan, LoadedModel& model,
                                             const std::vector<WarmupRun>& warmup,
                                             const ModelAutotuneOptions& options);

// Writes `setting` into `config`: one KIND_CPU instance_group of
// setting.instances, the INTRA_OP_THREAD_COUNT parameter, and for a model
// that batches, dynamic_batching with preferred_batch_size [setting.batch]
// (left off when it was off and the batch is 1).
void ApplyAutotuneSetting(const AutotuneSetting& setting, config::ModelConfig& config);

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_MODEL_AUTOTUNE_H_
