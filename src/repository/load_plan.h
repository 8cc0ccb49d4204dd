// LoadPlan: what a model's configuration says to load, decided before any
// file is loaded. Pure functions of the config (and, for PlanModel, of the
// model's directory listing), unit-tested without a backend.
//
//   ASSIGN_OR_RETURN(LoadPlan plan, PlanModel(root, "mlp", std::nullopt));
//   for (int64_t v : plan.versions) ...            // what the version policy selects
//   SchedulerOptions s = MakeSchedulerOptions(plan, inputs, outputs, 1024);
//   std::vector<InstanceOptions> at = InstancePlacements(plan.config);
#ifndef PTSERVE_REPOSITORY_LOAD_PLAN_H_
#define PTSERVE_REPOSITORY_LOAD_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "config/model_config.h"
#include "core/tensor_spec.h"
#include "repository/model_parameters.h"
#include "repository/model_version.h"
#include "scheduler/scheduler.h"

namespace ptserve {

// Everything decided about a model before its versions load.
struct LoadPlan {
  std::string dir;          // <root>/<model>
  std::string config_file;  // for messages: the config's path, or "config override for 'm'"
  config::ModelConfig config;
  ModelParameters params;
  std::vector<TensorSpec> inputs;  // from the config; empty = the backend derives them
  std::vector<TensorSpec> outputs;
  std::vector<int64_t> versions;  // ascending; empty for a router (it has none of its own)
  std::vector<std::string> warnings;
};

// A config.pbtxt larger than this is refused unread (the management API's
// overrides are bounded by its body limit, 16 MiB).
inline constexpr uint64_t kMaxConfigFileBytes = 16 << 20;

// Reads, validates and plans model `name` of repository `root`:
// `config_override` (the management API's) replaces its config.pbtxt; no
// config at all means Triton's defaults. NotFound when the model has no
// directory or no version to load, InvalidArgument (naming the file) for a
// bad config.
absl::StatusOr<LoadPlan> PlanModel(const std::string& root, const std::string& name,
                                   const std::optional<config::ModelConfig>& config_override);

// Numeric subdirectories (> 0) of `dir`, ascending.
std::vector<int64_t> VersionDirs(const std::string& dir);

// The versions `policy` selects from `available` (ascending): all of them,
// the named ones (NotFound for one with no directory), or the newest
// `num_versions` (default: the newest one). `config_file` names the source
// in messages.
absl::StatusOr<std::vector<int64_t>> SelectVersions(const config::ModelVersionPolicy& policy,
                                                    const std::vector<int64_t>& available,
                                                    const std::string& config_file);

// The per-input dimension limits of a model's parameters.
InputDimLimits DimLimits(const ModelParameters& params);

// The scheduler options a config asks for, with the model's own `inputs` and
// `outputs` (the loaded model's, in its order); `default_queue` bounds the
// queue when the config sets no max_queue_size.
SchedulerOptions MakeSchedulerOptions(const LoadPlan& plan, const std::vector<TensorSpec>& inputs,
                                      const std::vector<TensorSpec>& outputs, size_t default_queue);

// One InstanceOptions per instance the config's instance_group asks for
// (count 0 counts as 1; KIND_GPU on each listed GPU, cuda:0 when none is
// listed), indexed in order; one CPU instance when there is no group.
// Intra-op threads: the INTRA_OP_THREAD_COUNT parameter, else the
// `available_cpus` shared evenly (at least 1 each).
std::vector<InstanceOptions> InstancePlacements(const LoadPlan& plan, int available_cpus);

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_LOAD_PLAN_H_
