#include "repository/model_parameters.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ptserve {
namespace {

enum class Support { kActed, kNotYet, kNotHere };

struct KeyInfo {
  const char* key;
  Support support;
  const char* note;
};

// Every key ptserve accepts. Triton's PyTorch backend keys are accepted so
// that a Triton repository loads unchanged.
constexpr KeyInfo kKeys[] = {
    {"INTRA_OP_THREAD_COUNT", Support::kActed, "intra-op threads per instance"},
    {"INTER_OP_THREAD_COUNT", Support::kActed, "inter-op threads (process-wide)"},
    {"INFERENCE_MODE", Support::kActed, "run under c10::InferenceMode (default true)"},
    {"PAD_INPUTS", Support::kActed, "inputs padded to the longest request in a batch"},
    {"TRIM_OUTPUTS", Support::kActed, "outputs trimmed back after padding"},
    {"PRECISION", Support::kActed, "FP32 | BF16 | FP16 (FP16: CUDA only)"},
    {"QUANTIZATION", Support::kActed, "NONE | DYNAMIC_INT8 | STATIC_INT8"},
    {"QUANTIZED_ENGINE", Support::kActed, "onednn | qnnpack | fbgemm (where built)"},
    {"OPTIMIZE", Support::kActed, "freeze + optimize_for_inference, checked (default true)"},
    {"CUDNN_BENCHMARK", Support::kNotHere, "true | false; CUDA only"},
    {"CUDA_GRAPHS", Support::kNotHere, "true | false; CUDA only"},
    {"DISABLE_OPTIMIZED_EXECUTION", Support::kNotYet, "Triton: disable the JIT optimizer"},
    {"DISABLE_CUDNN", Support::kNotHere, "CUDA only"},
    {"ENABLE_WEIGHT_SHARING", Support::kNotYet, "Triton: instances share weights (ptserve always does on CPU)"},
    {"ENABLE_CACHE_CLEANING", Support::kNotHere, "CUDA only"},
    {"ENABLE_JIT_EXECUTOR", Support::kNotYet, "Triton"},
    {"ENABLE_JIT_PROFILING", Support::kNotYet, "Triton"},
    {"ENABLE_NVFUSER", Support::kNotHere, "CUDA only"},
    {"ENABLE_TENSOR_FUSER", Support::kNotYet, "Triton"},
};

absl::StatusOr<bool> ParseBool(const std::string& key, const std::string& value) {
  const std::string v = absl::AsciiStrToLower(value);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("parameter ", key, ": '", value, "' is not a boolean (true or false)"));
}

absl::StatusOr<int> ParseCount(const std::string& key, const std::string& value) {
  int n;
  if (!absl::SimpleAtoi(value, &n) || n < 0 || n > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter ", key, ": '", value, "' is not a thread count in 0..1024"));
  }
  return n;
}

}  // namespace

absl::StatusOr<ModelParameters> ParseModelParameters(const config::ModelConfig& config) {
  ModelParameters out;
  // Sorted for deterministic messages.
  std::map<std::string, std::string> params;
  for (const auto& [key, value] : config.parameters()) params[key] = value.string_value();
  for (const auto& [key, value] : params) {
    const KeyInfo* info = nullptr;
    for (const KeyInfo& k : kKeys) {
      if (key == k.key) info = &k;
    }
    if (info == nullptr) {
      std::vector<std::string> valid;
      for (const KeyInfo& k : kKeys) valid.push_back(k.key);
      return absl::InvalidArgumentError(absl::StrCat("parameters: unknown key '", key,
                                                     "'; valid keys: ", absl::StrJoin(valid, ", ")));
    }
    if (key == "INTRA_OP_THREAD_COUNT") {
      auto n = ParseCount(key, value);
      if (!n.ok()) return n.status();
      out.intra_op_threads = *n;
    } else if (key == "INTER_OP_THREAD_COUNT") {
      auto n = ParseCount(key, value);
      if (!n.ok()) return n.status();
      out.inter_op_threads = *n;
    } else if (key == "INFERENCE_MODE" || key == "PRECISION" || key == "QUANTIZATION" ||
               key == "QUANTIZED_ENGINE" || key == "OPTIMIZE") {
      // The backend's own options: it checks their values when it loads.
      out.backend.emplace_back(key, value);
    } else if (key == "PAD_INPUTS") {
      for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits(':', 1));
        std::string name(absl::StripAsciiWhitespace(kv.first));
        double pad = 0;
        if (!kv.second.empty() && !absl::SimpleAtod(kv.second, &pad)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "parameter PAD_INPUTS: '", std::string(item), "' is not name[:pad_value]"));
        }
        bool declared = false;
        for (const auto& input : config.input()) declared |= input.name() == name;
        if (!declared) {
          return absl::InvalidArgumentError(
              absl::StrCat("parameter PAD_INPUTS names '", name, "', which is not an input"));
        }
        out.pad_inputs.emplace_back(name, pad);
      }
    } else if (key == "TRIM_OUTPUTS") {
      for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        std::string name(absl::StripAsciiWhitespace(item));
        bool declared = false;
        for (const auto& output : config.output()) declared |= output.name() == name;
        if (!declared) {
          return absl::InvalidArgumentError(
              absl::StrCat("parameter TRIM_OUTPUTS names '", name, "', which is not an output"));
        }
        out.trim_outputs.push_back(name);
      }
    } else if (key == "CUDNN_BENCHMARK" || key == "CUDA_GRAPHS") {
      auto b = ParseBool(key, value);
      if (!b.ok()) return b.status();
      out.warnings.push_back(absl::StrCat("parameter ", key, " (", info->note,
                                          ") has no effect on CPU instances"));
    } else if (info->support == Support::kNotYet) {
      out.warnings.push_back(absl::StrCat("parameter ", key, " (", info->note,
                                          ") is not implemented yet and is ignored"));
    } else {
      out.warnings.push_back(absl::StrCat("parameter ", key, " (", info->note,
                                          ") has no effect in this CPU build"));
    }
  }
  if (!out.trim_outputs.empty() && out.pad_inputs.empty()) {
    return absl::InvalidArgumentError("parameter TRIM_OUTPUTS needs PAD_INPUTS");
  }
  if (!out.pad_inputs.empty() && !config.has_dynamic_batching()) {
    out.warnings.push_back("PAD_INPUTS has no effect without dynamic_batching");
  }
  return out;
}

}  // namespace ptserve
