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
//    must be -1 or in [1, 2147483647], got 0".
// Every size a config chooses is range-checked here, and the message names
// the field and the allowed range, so that nothing downstream allocates
// memory, threads or queues in proportion to an unchecked number (the
// limits are the kMax* constants below). Rules (beyond what the text format
// already enforces):
// - platform is "", "pytorch_libtorch" or "torchscript"; backend is "" or
//   "pytorch".
// - max_batch_size in [0, kMaxBatchSize].
// - default_model_filename: "" or a relative path inside the version
//   directory (CheckRelativeFileName).
// - input/output: names non-empty and unique (within inputs, within
//   outputs); data_type a known value other than TYPE_INVALID; dims
//   non-empty, at most kMaxRank of them, each -1 or in [1, kMaxDimension];
//   the fixed dims (-1 counted as 1) of one item hold at most
//   kMaxItemElements elements and kMaxItemBytes bytes; reshape entries
//   likewise; when neither dims nor reshape has a -1, both hold the same
//   number of elements.
// - version_policy: latest.num_versions in [1, kMaxVersions]; specific
//   lists 1 to kMaxVersions versions, each >= 1.
// - instance_group: count in [0, kMaxInstances] (0 means 1); kind a known
//   value; gpus entries in [0, kMaxGpuIndex], and no gpus for KIND_CPU or
//   KIND_MODEL; the model's instances in total (count x gpus for GPU
//   kinds) at most kMaxInstances.
// - dynamic_batching requires max_batch_size > 0; at most
//   kMaxPreferredBatchSizes preferred_batch_size entries, each in
//   [1, max_batch_size]; max_queue_delay_microseconds <= 60 s;
//   priority_levels in [0, kMaxPriorityLevels]; default_priority_level in
//   [1, priority_levels] when priority_levels > 0, else 0;
//   priority_queue_policy keys in [1, priority_levels]; queue policies:
//   timeouts <= kMaxTimeoutMicroseconds, max_queue_size <= kMaxQueueSize.
// - model_warmup: at most kMaxWarmups entries; name non-empty; batch_size
//   in [1, max(max_batch_size, 1)]; count in [0, kMaxWarmupCount]; each
//   input names a declared input (when inputs are declared) with the same
//   data_type, has at most kMaxRank dims, each in [1, kMaxDimension], fits
//   the declared dims, and one of zero_data / random_data /
//   input_data_file (a relative path, CheckRelativeFileName); one item at
//   most kMaxItemElements elements, and every warm-up input of every entry
//   together (batch included) at most kMaxWarmupBytes bytes.
// - routing: variant names non-empty and unique; weights finite and >= 0,
//   not all zero.
absl::Status ValidateModelConfig(const config::ModelConfig& config,
                                 std::string_view file_name);

// A file name taken from a config (default_model_filename, a warm-up
// input_data_file): non-empty, relative, no "." or ".." component, no
// backslash or NUL, at most 4096 bytes. Pure string check; the repository
// also resolves symlinks (repository/model_files.h). InvalidArgument
// "<field>: '<name>' ...".
absl::Status CheckRelativeFileName(std::string_view name, std::string_view field);

// Upper bounds used by ValidateModelConfig. Generous for real models, small
// enough that nothing sized by them can exhaust the machine.
inline constexpr uint64_t kMaxQueueDelayMicroseconds = 60'000'000;  // 1 minute
// Fits std::chrono::nanoseconds (int64) with room to add to a time point.
inline constexpr uint64_t kMaxTimeoutMicroseconds = 1'000'000ULL * 3600 * 24 * 365;
inline constexpr int64_t kMaxBatchSize = 65536;
inline constexpr int64_t kMaxDimension = 2147483647;  // 2^31 - 1
inline constexpr int kMaxRank = 32;
// One item (one row of a batch) of an input or output, fixed dims only.
inline constexpr int64_t kMaxItemElements = int64_t{1} << 28;  // 268435456
inline constexpr int64_t kMaxItemBytes = int64_t{1} << 30;     // 1 GiB
// Instances (one worker thread each) per group and per model in total.
inline constexpr int64_t kMaxInstances = 256;
inline constexpr int64_t kMaxGpuIndex = 1023;
inline constexpr uint64_t kMaxPriorityLevels = 1024;
inline constexpr uint64_t kMaxQueueSize = 1 << 20;  // 1048576 requests
inline constexpr int kMaxPreferredBatchSizes = 64;
inline constexpr uint64_t kMaxVersions = 1024;
inline constexpr int kMaxWarmups = 64;
inline constexpr uint64_t kMaxWarmupCount = 100;
// All warm-up inputs of a config together (the model's activations for them
// come on top, so this stays small).
inline constexpr int64_t kMaxWarmupBytes = int64_t{1} << 26;  // 64 MiB
inline constexpr size_t kMaxFileNameBytes = 4096;

}  // namespace ptserve

#endif  // PTSERVE_CONFIG_MODEL_CONFIG_VALIDATION_H_
