// Autotune: chooses how a model is served on this machine (instances x
// intra-op threads x batch size) by measuring it in-process, within a time
// budget, and picking the setting with the most rows per second under an
// optional latency target. Library-free: it sees the model only through
// ModelInstance, so it is tested with fake instances; repository/
// model_autotune.h runs it on a loaded model at load time and ptserve-tune
// offline.
//
//   AutotuneOptions o;
//   o.cpus = 2;
//   o.max_batch = 64;
//   ASSIGN_OR_RETURN(AutotuneResult r, Autotune(o, make_instance, batch_inputs));
//   spdlog::info("{}", FormatAutotuneTable(r));   // r.chosen is the setting to serve
#ifndef PTSERVE_SCHEDULER_AUTOTUNE_H_
#define PTSERVE_SCHEDULER_AUTOTUNE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/model_instance.h"
#include "core/tensor.h"

namespace ptserve {

struct AutotuneOptions {
  int cpus = 1;  // the CPU budget: instances x intra-op threads never exceed it
  // The largest batch the model takes (max_batch_size); 0 = it does not
  // batch (its inputs have no batch dimension: only instances x threads).
  int64_t max_batch = 0;
  int64_t max_tuned_batch = 64;  // batch sizes tried: 1, 2, 4, ... up to this
  int64_t budget_ms = 3000;      // the measuring time aimed at (the batch-1 round always runs)
  // 0 = none. A setting meets it when twice its measured p99 execution time
  // fits: under load a request may wait for the batch running before its own.
  int64_t p99_target_us = 0;
  // Called before each layout is measured with its intra-op thread count
  // (e.g. to size a process-wide BLAS pool as serving that layout would).
  std::function<void(int intra_op_threads)> prepare_layout;
};

struct AutotuneSetting {
  int instances = 1;
  int intra_op_threads = 1;
  int64_t batch = 1;  // the largest batch a worker forms (preferred_batch_size)
  bool operator==(const AutotuneSetting&) const = default;
};

struct AutotunePoint {
  AutotuneSetting setting;
  double rows_per_second = 0;  // all instances together
  int64_t p50_us = 0;          // one execution of `batch` rows
  int64_t p99_us = 0;
  int64_t executions = 0;
  bool meets_target = true;
};

struct AutotuneResult {
  AutotuneSetting chosen;
  double chosen_rows_per_second = 0;
  bool target_met = true;             // false: no setting met the target; chosen has the lowest p99
  std::vector<AutotunePoint> points;  // in the order measured
  double seconds = 0;                 // the whole search, instance creation included
};

// Creates instance `index` with `intra_op_threads` threads (LoadedModel::CreateInstance).
using AutotuneInstanceFactory =
    std::function<absl::StatusOr<std::unique_ptr<ModelInstance>>(int index, int intra_op_threads)>;
// The inputs of one execution of `batch` rows (model order); `batch` is 0
// for a model that does not batch.
using AutotuneBatchInputs = std::function<absl::StatusOr<std::vector<Tensor>>(int64_t batch)>;

// The (instances, intra-op threads) layouts tried on `cpus` CPUs: every
// n x t <= cpus with t a power of two or cpus / n, most threads first.
std::vector<std::pair<int, int>> AutotuneLayouts(int cpus);

// Measures and chooses. Batch 1 on every layout first, then doubling batch
// sizes per layout until two doublings in a row gain less than 3% rows per
// second, while the budget lasts (each point gets about half the budget
// shared among all possible points); then the three leaders are measured
// again with what is left, keeping each one's best run (a busy machine only
// slows a run down). Among the settings that meet the target it picks the
// highest throughput, preferring the smallest batch, then the fewest
// instances, within 3% of it. Fails when an instance cannot be created or an
// execution fails (the model's own message).
absl::StatusOr<AutotuneResult> Autotune(const AutotuneOptions& options,
                                        const AutotuneInstanceFactory& make_instance,
                                        const AutotuneBatchInputs& batch_inputs);

// The measured table, one line per point, the chosen one marked, for logs.
std::string FormatAutotuneTable(const AutotuneResult& result);

}  // namespace ptserve

#endif  // PTSERVE_SCHEDULER_AUTOTUNE_H_
