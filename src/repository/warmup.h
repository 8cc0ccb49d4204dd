// Warm-up: the requests a model version runs before it is marked ready, and
// running them. From the config's model_warmup (Triton's format: random,
// zero or file data), else generated from the input shapes by
// core/sample_inputs.h (the generator the backend's checks use too).
//
//   ASSIGN_OR_RETURN(auto runs, WarmupRequests(plan, version->inputs(), version->batched(), max));
//   RETURN_IF_ERROR(RunWarmup(runs, *version));
#ifndef PTSERVE_REPOSITORY_WARMUP_H_
#define PTSERVE_REPOSITORY_WARMUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/inference.h"
#include "core/sample_inputs.h"
#include "core/tensor_spec.h"
#include "repository/load_plan.h"
#include "repository/model_version.h"

namespace ptserve {

struct WarmupRun {
  InferenceRequest request;
  int count = 1;  // times in a row
};

// Generated warm-up inputs (no model_warmup in the config): a variable
// dimension gets kSampleVariableDim (or the model's limit, if smaller), and
// the largest-batch run has at most kGeneratedWarmupMaxBatch rows and fits
// kMaxWarmupBytes (the model's activations grow with the batch too).
inline constexpr int64_t kGeneratedWarmupMaxBatch = 64;

// The warm-up runs of `plan` for a model with `inputs` (config-side specs):
// the config's model_warmup entries (files confined to <model>/warmup and
// checked against their declared size), else batch 1 and the largest batch,
// three times each, so that TorchScript's profiling executor has specialised
// before the first request. None when the shapes are unknown or one item
// would not fit the bounds; `max_elements` (--max-tensor-elements) bounds
// the generated tensors.
absl::StatusOr<std::vector<WarmupRun>> WarmupRequests(const LoadPlan& plan,
                                                      const std::vector<TensorSpec>& inputs,
                                                      bool batched, int64_t max_elements);

// Checks that a BYTES warm-up file holds exactly `count` serialized elements
// (4-byte little-endian length, then the bytes); `what` names the file.
absl::Status CheckSerializedBytes(const std::string& bytes, int64_t count, const std::string& what);

// Runs `runs` through `version`'s scheduler, one request at a time; the
// first failure is returned as "warm-up failed: ...".
absl::Status RunWarmup(const std::vector<WarmupRun>& runs, ModelVersion& version);

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_WARMUP_H_
