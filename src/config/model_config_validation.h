// ValidateModelConfig: the semantic rules a parsed config.pbtxt must meet
// before ptserve loads the model (the text format has already checked the
// syntax, field names and enum names; see model_config.h).
//
//   ASSIGN_OR_RETURN(ParsedModelConfig parsed, ParseModelConfig(text, path));
//   RETURN_IF_ERROR(ValidateModelConfig(parsed.config, path));
//
// Pure and thread-safe.
#ifndef PTSERVE_CONFIG_MODEL_CONFIG_VALIDATION_H_
#define PTSERVE_CONFIG_MODEL_CONFIG_VALIDATION_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "config/model_config.pb.h"

namespace ptserve {

// Checks the values of a parsed config. Returns the first problem found as
// InvalidArgument "<file_name>: <field path>: <what is wrong>", e.g.
//   "models/mlp/config.pbtxt: input[0].dims[1]: input 'INPUT__0': dimension
//    must be >= 1 or -1, got 0".
// Rules (beyond what the text format already enforces):
// - platform is "", "pytorch_libtorch" or "torchscript"; backend is "" or
//   "pytorch".
// - max_batch_size >= 0.
// - input/output: names non-empty and unique (within inputs, within
//   outputs); data_type a known value other than TYPE_INVALID; dims
//   non-empty, each entry >= 1 or -1; reshape entries likewise; when neither
//   dims nor reshape has a -1, both hold the same number of elements.
// - version_policy: latest.num_versions >= 1; specific lists >= 1 version,
//   each >= 1.
// - instance_group: count >= 0 (0 means 1); kind a known value; gpus entries
//   >= 0, and no gpus for KIND_CPU or KIND_MODEL.
// - dynamic_batching requires max_batch_size > 0; preferred_batch_size
//   entries in [1, max_batch_size]; max_queue_delay_microseconds <= 60 s;
//   default_priority_level in [1, priority_levels] when priority_levels > 0,
//   else 0; priority_queue_policy keys in [1, priority_levels]; queue-policy
//   timeouts <= kMaxTimeoutMicroseconds.
// - model_warmup: name non-empty; batch_size in [1, max(max_batch_size, 1)];
//   each input names a declared input (when inputs are declared) with the
//   same data_type, has dims >= 1 and one of zero_data / random_data /
//   input_data_file.
// - routing: variant names non-empty and unique; weights finite and >= 0,
//   not all zero.
absl::Status ValidateModelConfig(const config::ModelConfig& config,
                                 std::string_view file_name);

// Upper bounds used by ValidateModelConfig.
inline constexpr uint64_t kMaxQueueDelayMicroseconds = 60'000'000;  // 1 minute
// Fits std::chrono::nanoseconds (int64) with room to add to a time point.
inline constexpr uint64_t kMaxTimeoutMicroseconds = 1'000'000ULL * 3600 * 24 * 365;

}  // namespace ptserve

#endif  // PTSERVE_CONFIG_MODEL_CONFIG_VALIDATION_H_
