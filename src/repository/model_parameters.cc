#include "repository/model_parameters.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "config/model_config_validation.h"

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
    {"INTER_OP_THREAD_COUNT", Support::kActed,
     "must equal the server's --inter-op-threads (libtorch's pool is one per process)"},
    {"INFERENCE_MODE", Support::kActed, "run under c10::InferenceMode (default true)"},
    {"PAD_INPUTS", Support::kActed, "inputs padded to the longest request in a batch"},
    {"TRIM_OUTPUTS", Support::kActed, "outputs trimmed back after padding"},
    {"MAX_SEQUENCE_LENGTH", Support::kActed, "largest size of any variable input dimension"},
    {"MAX_INPUT_DIMS", Support::kActed, "largest sizes of named inputs' dimensions"},
    {"PRECISION", Support::kActed, "FP32 | BF16 | FP16 (FP16: CUDA only)"},
    {"QUANTIZATION", Support::kActed, "NONE | DYNAMIC_INT8 | STATIC_INT8"},
    {"QUANTIZED_ENGINE", Support::kActed, "onednn | qnnpack | fbgemm (where built)"},
    {"ACCURACY_TOLERANCE", Support::kActed,
     "largest relative L2 difference an explicit PRECISION/QUANTIZATION/OPTIMIZE may make on "
     "the load-time samples; beyond it the load fails (default: no gate, only non-finite "
     "outputs refuse a lever)"},
    {"OPTIMIZE", Support::kActed, "freeze + optimize_for_inference, checked (default true)"},
    {"LINEAR_KERNEL", Support::kActed,
     "AUTO | GEMV | DEFAULT: Linear layers at small batches through the BLAS's gemv (AUTO: "
     "where it measures faster at load; needs OPTIMIZE)"},
    {"AUTOTUNE", Support::kActed,
     "true: instances x intra-op threads x batch size chosen by measurement at load"},
    {"AUTOTUNE_P99_US", Support::kActed,
     "latency target for AUTOTUNE: twice a setting's p99 execution time must fit (us)"},
    {"OPERATOR_LIBRARIES", Support::kActed,
     "operator libraries (.so) in the model directory, loaded before the model"},
    {"CUDNN_BENCHMARK", Support::kNotHere, "true | false; CUDA only"},
    {"CUDA_GRAPHS", Support::kNotHere, "true | false; CUDA only"},
    {"DISABLE_OPTIMIZED_EXECUTION", Support::kNotYet, "Triton: disable the JIT optimizer"},
    {"DISABLE_CUDNN", Support::kNotHere, "CUDA only"},
    {"ENABLE_WEIGHT_SHARING", Support::kNotYet,
     "Triton: instances share weights (ptserve always does on CPU)"},
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

// A dimension limit: an integer in [1, kMaxDimension] (0 too when
// `zero_ok`, meaning no limit).
absl::StatusOr<int64_t> ParseDimLimit(const std::string& key, absl::string_view text,
                                      bool zero_ok) {
  int64_t n;
  if (!absl::SimpleAtoi(text, &n) || n < (zero_ok ? 0 : 1) || n > kMaxDimension) {
    return absl::InvalidArgumentError(absl::StrCat("parameter ", key, ": '", std::string(text),
                                                   "' is not a size in [", zero_ok ? 0 : 1, ", ",
                                                   kMaxDimension, "]"));
  }
  return n;
}

// The pad value must be exactly representable in the input's type.
absl::Status CheckPadValue(const std::string& name, double pad, config::DataType type) {
  auto fail = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("parameter PAD_INPUTS: pad value ", pad,
                                                   " for input '", name, "' ", why));
  };
  if (!std::isfinite(pad)) return fail("is not a finite number");
  double lo = 0, hi = 0;
  switch (type) {
    case config::TYPE_BOOL: lo = 0, hi = 1; break;
    case config::TYPE_UINT8: lo = 0, hi = 255; break;
    case config::TYPE_UINT16: lo = 0, hi = 65535; break;
    case config::TYPE_UINT32: lo = 0, hi = 4294967295.0; break;
    case config::TYPE_UINT64: lo = 0, hi = 18446744073709549568.0; break;
    case config::TYPE_INT8: lo = -128, hi = 127; break;
    case config::TYPE_INT16: lo = -32768, hi = 32767; break;
    case config::TYPE_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
    case config::TYPE_INT64: lo = -9223372036854775808.0, hi = 9223372036854774784.0; break;
    case config::TYPE_STRING:
      return fail("cannot apply: BYTES inputs are not padded");
    default:  // floating point: any finite value (rounded to the type)
      if (std::fabs(pad) > 65504 && type == config::TYPE_FP16) {
        return fail("is outside FP16's range [-65504, 65504]");
      }
      if (std::fabs(pad) > 3.0e38 && (type == config::TYPE_FP32 || type == config::TYPE_BF16)) {
        return fail("is outside the input type's range");
      }
      return absl::OkStatus();
  }
  if (pad != std::trunc(pad) || pad < lo || pad > hi) {
    return fail(absl::StrCat("must be an integer in [", lo, ", ", hi, "] for its type ",
                             config::DataType_Name(type)));
  }
  return absl::OkStatus();
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
               key == "QUANTIZED_ENGINE" || key == "OPTIMIZE" || key == "ACCURACY_TOLERANCE" ||
               key == "LINEAR_KERNEL") {
      // The backend's own options: it checks their values when it loads.
      out.backend.emplace_back(key, value);
    } else if (key == "AUTOTUNE") {
      auto b = ParseBool(key, value);
      if (!b.ok()) return b.status();
      out.autotune = *b;
    } else if (key == "AUTOTUNE_P99_US") {
      int64_t us;
      if (!absl::SimpleAtoi(value, &us) || us < 1 || us > int64_t{3600} * 1000 * 1000) {
        return absl::InvalidArgumentError(absl::StrCat("parameter AUTOTUNE_P99_US: '", value,
                                                       "' is not microseconds in 1..3600000000"));
      }
      out.autotune_p99_us = us;
    } else if (key == "OPERATOR_LIBRARIES") {
      for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        const std::string name(absl::StripAsciiWhitespace(item));
        if (absl::Status s = CheckRelativeFileName(name, "parameter OPERATOR_LIBRARIES");
            !s.ok()) {
          return s;
        }
        out.operator_libraries.push_back(name);
      }
    } else if (key == "PAD_INPUTS") {
      for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits(':', 1));
        std::string name(absl::StripAsciiWhitespace(kv.first));
        double pad = 0;
        if (!kv.second.empty() && !absl::SimpleAtod(kv.second, &pad)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "parameter PAD_INPUTS: '", std::string(item), "' is not name[:pad_value]"));
        }
        const config::ModelInput* declared = nullptr;
        for (const auto& input : config.input()) {
          if (input.name() == name) declared = &input;
        }
        if (declared == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("parameter PAD_INPUTS names '", name, "', which is not an input"));
        }
        if (absl::Status s = CheckPadValue(name, pad, declared->data_type()); !s.ok()) return s;
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
    } else if (key == "MAX_SEQUENCE_LENGTH") {
      auto n = ParseDimLimit(key, value, /*zero_ok=*/false);
      if (!n.ok()) return n.status();
      out.max_sequence_length = *n;
    } else if (key == "MAX_INPUT_DIMS") {
      for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits(':', 1));
        const std::string name(absl::StripAsciiWhitespace(kv.first));
        const config::ModelInput* declared = nullptr;
        for (const auto& input : config.input()) {
          if (input.name() == name) declared = &input;
        }
        if (declared == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(
              "parameter MAX_INPUT_DIMS names '", name,
              "', which is not a declared input (write name:size or name:AxBxC)"));
        }
        if (out.max_input_dims.count(name) > 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("parameter MAX_INPUT_DIMS names '", name, "' twice"));
        }
        std::vector<int64_t> limits;
        const std::vector<absl::string_view> parts =
            absl::StrSplit(absl::StripAsciiWhitespace(kv.second), 'x');
        if (parts.size() == 1) {
          auto n = ParseDimLimit(key, parts[0], /*zero_ok=*/false);
          if (!n.ok()) return n.status();
          limits.assign(declared->dims_size(), *n);
        } else {
          if (static_cast<int>(parts.size()) != declared->dims_size()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "parameter MAX_INPUT_DIMS: input '", name, "' has ", declared->dims_size(),
                " dims but '", std::string(kv.second), "' gives ", parts.size(), " limits"));
          }
          for (absl::string_view part : parts) {
            auto n = ParseDimLimit(key, part, /*zero_ok=*/true);
            if (!n.ok()) return n.status();
            limits.push_back(*n);
          }
        }
        for (int d = 0; d < declared->dims_size(); ++d) {
          if (declared->dims(d) > 0 && limits[d] > 0 && limits[d] < declared->dims(d)) {
            return absl::InvalidArgumentError(absl::StrCat(
                "parameter MAX_INPUT_DIMS: input '", name, "' dimension ", d, " is declared ",
                declared->dims(d), ", more than its limit ", limits[d]));
          }
        }
        out.max_input_dims[name] = std::move(limits);
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
  if (out.autotune) {
    for (const auto& group : config.instance_group()) {
      if (group.kind() == config::ModelInstanceGroup::KIND_GPU) {
        return absl::InvalidArgumentError(
            "parameter AUTOTUNE tunes CPU instances only; this model has a KIND_GPU "
            "instance_group");
      }
    }
    // A tuned config (as /v2/models/{m}/config shows it) loads again as it is,
    // and is tuned again: the fixed values are replaced, which a warning says.
    bool fixed = out.intra_op_threads > 0;
    for (const auto& group : config.instance_group()) fixed |= group.count() > 0;
    if (fixed) {
      out.warnings.push_back(
          "parameter AUTOTUNE replaces the config's instance_group count and "
          "INTRA_OP_THREAD_COUNT with what it measures");
    }
  } else if (out.autotune_p99_us > 0) {
    out.warnings.push_back("parameter AUTOTUNE_P99_US has no effect without AUTOTUNE true");
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
