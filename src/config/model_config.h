// Model configuration: Triton-compatible config.pbtxt files, parsed with the
// protobuf text format against config/model_config.proto, then validated.
//
//   ASSIGN_OR_RETURN(ParsedModelConfig parsed,
//                    ParseModelConfig(text, "models/mlp/config.pbtxt"));
//   for (const std::string& w : parsed.warnings) LOG(WARNING) << w;
//   RETURN_IF_ERROR(ValidateModelConfig(parsed.config, "models/mlp/config.pbtxt"));
//
// Parsing and validation are separate steps so that callers (the repository)
// may fill defaults, e.g. the model name from its directory, in between.
// ValidateModelConfig lives in config/model_config_validation.h.
//
// All functions are pure and thread-safe.
#ifndef PTSERVE_CONFIG_MODEL_CONFIG_H_
#define PTSERVE_CONFIG_MODEL_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/model_config.pb.h"
#include "core/data_type.h"

namespace ptserve {

struct ParsedModelConfig {
  config::ModelConfig config;
  // One line per field that is set but ignored by ptserve (see
  // UnsupportedFieldWarnings), phrased for a log:
  //   "models/mlp/config.pbtxt: field 'optimization' is not supported by
  //    ptserve yet and is ignored"
  std::vector<std::string> warnings;
};

// Parses `text`, a config.pbtxt in protobuf text format. `file_name` is only
// used in messages.
//
// Strict: a syntax error, a field that does not exist (e.g. a typo such as
// `max_batch_sise`), an unknown enum name (`TYPE_FP23`), a wrong value type,
// a singular field given twice or two members of one oneof (e.g. both
// dynamic_batching and sequence_batching) is InvalidArgument
//   "models/mlp/config.pbtxt:2:1: Message type "ptserve.config.ModelConfig"
//    has no field named "max_batch_sise"."
//   "models/mlp/config.pbtxt:2:17: Expected integer, got: "8" (field
//    'max_batch_size')"
// i.e. protobuf's message, with the position moved onto the offending token
// and " (field 'x')" added where protobuf names no field. Lines and columns
// are 1-based; as in protobuf, a tab advances the column to the next multiple
// of 8. A string that is not valid UTF-8 is InvalidArgument
// "<file_name>: parameters[0].value.string_value: string is not valid UTF-8".
//
// Fields that exist in Triton's schema but that ptserve ignores parse fine and
// are reported in `warnings`.
//
// Does not validate values: call ValidateModelConfig.
absl::StatusOr<ParsedModelConfig> ParseModelConfig(std::string_view text,
                                                   std::string_view file_name);

// Every field that is set in `config` (non-default scalars, present
// sub-messages, non-empty repeated fields and maps) but that ptserve does not
// act on yet, as dotted paths with indices: "optimization",
// "sequence_batching", "input[0].format", "instance_group[1].rate_limiter".
// A field is reported at the shallowest unsupported level only. The supported
// set is kSupportedFields in model_config.cc.
std::vector<std::string> UnsupportedFieldWarnings(const config::ModelConfig& config);

// Config enum <-> core DataType. TYPE_STRING is DataType::kBytes.
// nullopt for TYPE_INVALID and for values outside the enum.
std::optional<DataType> ToCoreDataType(config::DataType type);
config::DataType ToConfigDataType(DataType type);

// JSON for GET /v2/models/{model}/config, shaped as Triton answers it:
// proto field names (snake_case), scalar fields printed even when default,
// enums by name, and 64-bit integers as JSON numbers (plain proto3 JSON
// would quote them: "dims":["-1","784"]; Triton clients expect [-1,784]).
// Fails only for strings that are not valid UTF-8.
absl::StatusOr<std::string> ModelConfigToJson(const config::ModelConfig& config);

}  // namespace ptserve

#endif  // PTSERVE_CONFIG_MODEL_CONFIG_H_
