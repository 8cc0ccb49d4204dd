#include "config/model_config_validation.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "config/model_config.h"
#include "core/data_type.h"
#include "core/status_macros.h"
#include "core/tensor.h"

namespace ptserve {
namespace {

using Int64List = google::protobuf::RepeatedField<int64_t>;

// a * b, or nullopt when it overflows int64 (both >= 0).
std::optional<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

std::string Range(int64_t lo, int64_t hi) { return absl::StrCat("[", lo, ", ", hi, "]"); }

class Validator {
 public:
  Validator(const config::ModelConfig& config, std::string_view file_name)
      : config_(config), file_name_(file_name) {}

  absl::Status Run();

 private:
  absl::Status Error(absl::string_view path, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(file_name_, ": ", path, ": ", message));
  }

  absl::Status CheckDataType(int type, const std::string& path, absl::string_view what) const;
  absl::Status CheckShape(const Int64List& dims, const std::string& path,
                          absl::string_view what) const;
  // One item's fixed dims (-1 counted as 1) against kMaxItemElements and
  // kMaxItemBytes.
  absl::Status CheckItemSize(const Int64List& dims, int data_type, const std::string& path,
                             absl::string_view what) const;
  absl::Status CheckReshape(const Int64List& dims, const config::ModelTensorReshape& reshape,
                            const std::string& path, absl::string_view what) const;
  absl::Status CheckQueuePolicy(const config::ModelQueuePolicy& policy,
                                const std::string& path) const;
  absl::Status CheckPlatform() const;
  absl::Status CheckVersionPolicy() const;
  absl::Status CheckIo() const;
  absl::Status CheckInstanceGroups() const;
  absl::Status CheckDynamicBatching() const;
  absl::Status CheckWarmup() const;
  absl::Status CheckRouting() const;

  const config::ModelConfig& config_;
  std::string file_name_;
};

absl::Status Validator::Run() {
  RETURN_IF_ERROR(CheckPlatform());
  if (config_.max_batch_size() < 0 || config_.max_batch_size() > kMaxBatchSize) {
    return Error("max_batch_size", absl::StrCat("must be in ", Range(0, kMaxBatchSize), ", got ",
                                                config_.max_batch_size()));
  }
  if (!config_.default_model_filename().empty()) {
    RETURN_IF_ERROR(
        CheckRelativeFileName(config_.default_model_filename(),
                              absl::StrCat(file_name_, ": default_model_filename")));
  }
  RETURN_IF_ERROR(CheckVersionPolicy());
  RETURN_IF_ERROR(CheckIo());
  RETURN_IF_ERROR(CheckInstanceGroups());
  RETURN_IF_ERROR(CheckDynamicBatching());
  RETURN_IF_ERROR(CheckWarmup());
  return CheckRouting();
}

absl::Status Validator::CheckPlatform() const {
  const std::string& platform = config_.platform();
  if (!platform.empty() && platform != "pytorch_libtorch" && platform != "torchscript" &&
      platform != "torch_aoti") {
    return Error("platform", absl::StrCat("'", platform,
                                          "' is not supported; ptserve serves TorchScript "
                                          "('pytorch_libtorch' or 'torchscript') and "
                                          "AOTInductor packages ('torch_aoti')"));
  }
  const std::string& backend = config_.backend();
  if (!backend.empty() && backend != "pytorch") {
    return Error("backend", absl::StrCat("'", backend,
                                         "' is not supported; ptserve serves TorchScript "
                                         "('pytorch')"));
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckVersionPolicy() const {
  const config::ModelVersionPolicy& policy = config_.version_policy();
  if (policy.has_latest() &&
      (policy.latest().num_versions() < 1 || policy.latest().num_versions() > kMaxVersions)) {
    return Error("version_policy.latest.num_versions",
                 absl::StrCat("must be in [1, ", kMaxVersions, "], got ",
                              policy.latest().num_versions()));
  }
  if (policy.has_specific()) {
    if (policy.specific().versions().empty()) {
      return Error("version_policy.specific.versions", "must list at least one version");
    }
    if (static_cast<uint64_t>(policy.specific().versions_size()) > kMaxVersions) {
      return Error("version_policy.specific.versions",
                   absl::StrCat("must list 1 to ", kMaxVersions, " versions, got ",
                                policy.specific().versions_size()));
    }
    for (int i = 0; i < policy.specific().versions_size(); ++i) {
      const int64_t version = policy.specific().versions(i);
      if (version < 1) {
        return Error(absl::StrCat("version_policy.specific.versions[", i, "]"),
                     absl::StrCat("versions are >= 1, got ", version));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckDataType(int type, const std::string& path,
                                      absl::string_view what) const {
  if (type == config::TYPE_INVALID) {
    return Error(path, absl::StrCat(what, ": data_type must be set"));
  }
  if (!config::DataType_IsValid(type)) {
    return Error(path, absl::StrCat(what, ": unknown data_type ", type));
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckShape(const Int64List& dims, const std::string& path,
                                   absl::string_view what) const {
  if (dims.size() > kMaxRank) {
    return Error(path, absl::StrCat(what, ": at most ", kMaxRank, " dimensions, got ",
                                    dims.size()));
  }
  for (int i = 0; i < dims.size(); ++i) {
    if ((dims[i] < 1 && dims[i] != -1) || dims[i] > kMaxDimension) {
      return Error(absl::StrCat(path, "[", i, "]"),
                   absl::StrCat(what, ": dimension must be -1 or in ", Range(1, kMaxDimension),
                                ", got ", dims[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckItemSize(const Int64List& dims, int data_type,
                                      const std::string& path, absl::string_view what) const {
  int64_t elements = 1;
  for (int64_t d : dims) {
    std::optional<int64_t> next = CheckedMul(elements, d < 0 ? 1 : d);
    if (!next.has_value() || *next > kMaxItemElements) {
      return Error(path, absl::StrCat(what, ": one item of dims ",
                                      ShapeToString(Shape(dims.begin(), dims.end())),
                                      " holds more than ", kMaxItemElements,
                                      " elements (allowed: [1, ", kMaxItemElements, "])"));
    }
    elements = *next;
  }
  const std::optional<DataType> dtype = ToCoreDataType(static_cast<config::DataType>(data_type));
  const int64_t size = dtype.has_value() ? static_cast<int64_t>(DataTypeSize(*dtype)) : 0;
  if (elements * size > kMaxItemBytes) {  // <= 2^28 * 8: no overflow
    return Error(path, absl::StrCat(what, ": one item of dims ",
                                    ShapeToString(Shape(dims.begin(), dims.end())), " is ",
                                    elements * size, " bytes; at most ", kMaxItemBytes,
                                    " bytes allowed"));
  }
  return absl::OkStatus();
}

// Element count of a shape with no -1; nullopt when some size is variable.
absl::StatusOr<std::optional<int64_t>> KnownElementCount(const Int64List& dims) {
  if (std::find(dims.begin(), dims.end(), -1) != dims.end()) return std::nullopt;
  ASSIGN_OR_RETURN(int64_t count, ElementCount(Shape(dims.begin(), dims.end())));
  return count;
}

absl::Status Validator::CheckReshape(const Int64List& dims,
                                     const config::ModelTensorReshape& reshape,
                                     const std::string& path, absl::string_view what) const {
  RETURN_IF_ERROR(CheckShape(reshape.shape(), path + ".reshape.shape", what));
  absl::StatusOr<std::optional<int64_t>> from = KnownElementCount(dims);
  if (!from.ok()) return Error(path + ".dims", absl::StrCat(what, ": ", from.status().message()));
  absl::StatusOr<std::optional<int64_t>> to = KnownElementCount(reshape.shape());
  if (!to.ok()) {
    return Error(path + ".reshape.shape", absl::StrCat(what, ": ", to.status().message()));
  }
  if (from->has_value() && to->has_value() && **from != **to) {
    return Error(path + ".reshape",
                 absl::StrCat(what, ": reshape ", ShapeToString(Shape(reshape.shape().begin(),
                                                                      reshape.shape().end())),
                              " has ", **to, " elements but dims ",
                              ShapeToString(Shape(dims.begin(), dims.end())), " has ", **from));
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckIo() const {
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < config_.input_size(); ++i) {
    const config::ModelInput& input = config_.input(i);
    const std::string path = absl::StrCat("input[", i, "]");
    const std::string what = absl::StrCat("input '", input.name(), "'");
    if (input.name().empty()) return Error(path + ".name", "must not be empty");
    if (!names.insert(input.name()).second) {
      return Error(path + ".name", absl::StrCat("duplicate input name '", input.name(), "'"));
    }
    RETURN_IF_ERROR(CheckDataType(input.data_type(), path + ".data_type", what));
    if (input.dims().empty()) {
      return Error(path + ".dims",
                   absl::StrCat(what, ": must specify dims (use dims: [1] with "
                                      "reshape { shape: [] } for a scalar)"));
    }
    RETURN_IF_ERROR(CheckShape(input.dims(), path + ".dims", what));
    RETURN_IF_ERROR(CheckItemSize(input.dims(), input.data_type(), path + ".dims", what));
    if (input.has_reshape()) RETURN_IF_ERROR(CheckReshape(input.dims(), input.reshape(), path, what));
  }
  names.clear();
  for (int i = 0; i < config_.output_size(); ++i) {
    const config::ModelOutput& output = config_.output(i);
    const std::string path = absl::StrCat("output[", i, "]");
    const std::string what = absl::StrCat("output '", output.name(), "'");
    if (output.name().empty()) return Error(path + ".name", "must not be empty");
    if (!names.insert(output.name()).second) {
      return Error(path + ".name", absl::StrCat("duplicate output name '", output.name(), "'"));
    }
    RETURN_IF_ERROR(CheckDataType(output.data_type(), path + ".data_type", what));
    if (output.dims().empty()) {
      return Error(path + ".dims",
                   absl::StrCat(what, ": must specify dims (use dims: [1] with "
                                      "reshape { shape: [] } for a scalar)"));
    }
    RETURN_IF_ERROR(CheckShape(output.dims(), path + ".dims", what));
    RETURN_IF_ERROR(CheckItemSize(output.dims(), output.data_type(), path + ".dims", what));
    if (output.has_reshape()) {
      RETURN_IF_ERROR(CheckReshape(output.dims(), output.reshape(), path, what));
    }
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckInstanceGroups() const {
  int64_t total = 0;
  for (int i = 0; i < config_.instance_group_size(); ++i) {
    const config::ModelInstanceGroup& group = config_.instance_group(i);
    const std::string path = absl::StrCat("instance_group[", i, "]");
    if (group.count() < 0 || group.count() > kMaxInstances) {
      return Error(path + ".count", absl::StrCat("must be in ", Range(0, kMaxInstances),
                                                 " (0 means 1), got ", group.count()));
    }
    if (!config::ModelInstanceGroup::Kind_IsValid(group.kind())) {
      return Error(path + ".kind", absl::StrCat("unknown kind ", group.kind()));
    }
    if (!group.gpus().empty() && (group.kind() == config::ModelInstanceGroup::KIND_CPU ||
                                  group.kind() == config::ModelInstanceGroup::KIND_MODEL)) {
      return Error(path + ".gpus",
                   absl::StrCat("must not be set for kind ",
                                config::ModelInstanceGroup::Kind_Name(group.kind())));
    }
    if (group.gpus_size() > kMaxInstances) {
      return Error(path + ".gpus", absl::StrCat("lists ", group.gpus_size(),
                                                " GPUs; at most ", kMaxInstances, " allowed"));
    }
    for (int j = 0; j < group.gpus_size(); ++j) {
      if (group.gpus(j) < 0 || group.gpus(j) > kMaxGpuIndex) {
        return Error(absl::StrCat(path, ".gpus[", j, "]"),
                     absl::StrCat("must be in ", Range(0, kMaxGpuIndex), ", got ", group.gpus(j)));
      }
    }
    const int64_t devices = group.kind() == config::ModelInstanceGroup::KIND_GPU
                                ? std::max(1, group.gpus_size())
                                : 1;
    total += std::max<int64_t>(1, group.count()) * devices;  // <= 256 * 256 per group
    if (total > kMaxInstances) {
      return Error(path + ".count",
                   absl::StrCat("the model would have ", total,
                                " instances in total (count x gpus over all instance groups); "
                                "allowed: [1, ", kMaxInstances, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckQueuePolicy(const config::ModelQueuePolicy& policy,
                                         const std::string& path) const {
  if (!config::ModelQueuePolicy::TimeoutAction_IsValid(policy.timeout_action())) {
    return Error(path + ".timeout_action",
                 absl::StrCat("unknown timeout_action ", policy.timeout_action()));
  }
  if (policy.default_timeout_microseconds() > kMaxTimeoutMicroseconds) {
    return Error(path + ".default_timeout_microseconds",
                 absl::StrCat("must be in [0, ", kMaxTimeoutMicroseconds, "] (1 year), got ",
                              policy.default_timeout_microseconds()));
  }
  if (policy.max_queue_size() > kMaxQueueSize) {
    return Error(path + ".max_queue_size",
                 absl::StrCat("must be in [0, ", kMaxQueueSize, "] (0: the server's default), got ",
                              policy.max_queue_size()));
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckDynamicBatching() const {
  if (!config_.has_dynamic_batching()) return absl::OkStatus();
  const config::ModelDynamicBatching& batching = config_.dynamic_batching();
  const int max_batch_size = config_.max_batch_size();
  if (max_batch_size == 0) {
    return Error("dynamic_batching",
                 "requires max_batch_size > 0 (max_batch_size 0 disables batching)");
  }
  if (batching.preferred_batch_size_size() > kMaxPreferredBatchSizes) {
    return Error("dynamic_batching.preferred_batch_size",
                 absl::StrCat("lists ", batching.preferred_batch_size_size(), " sizes; at most ",
                              kMaxPreferredBatchSizes, " allowed"));
  }
  for (int i = 0; i < batching.preferred_batch_size_size(); ++i) {
    const int size = batching.preferred_batch_size(i);
    if (size < 1 || size > max_batch_size) {
      return Error(absl::StrCat("dynamic_batching.preferred_batch_size[", i, "]"),
                   absl::StrCat("must be in [1, max_batch_size=", max_batch_size, "], got ",
                                size));
    }
  }
  if (batching.max_queue_delay_microseconds() > kMaxQueueDelayMicroseconds) {
    return Error("dynamic_batching.max_queue_delay_microseconds",
                 absl::StrCat("must be in [0, ", kMaxQueueDelayMicroseconds, "] (1 minute), got ",
                              batching.max_queue_delay_microseconds()));
  }
  const uint64_t levels = batching.priority_levels();
  const uint64_t default_level = batching.default_priority_level();
  if (levels > kMaxPriorityLevels) {
    return Error("dynamic_batching.priority_levels",
                 absl::StrCat("must be in [0, ", kMaxPriorityLevels, "], got ", levels));
  }
  if (levels == 0 && default_level != 0) {
    return Error("dynamic_batching.default_priority_level",
                 absl::StrCat("must be 0 (unset) when priority_levels is 0, got ", default_level));
  }
  if (levels > 0 && (default_level < 1 || default_level > levels)) {
    return Error("dynamic_batching.default_priority_level",
                 absl::StrCat("must be in [1, priority_levels=", levels, "], got ",
                              default_level));
  }
  RETURN_IF_ERROR(
      CheckQueuePolicy(batching.default_queue_policy(), "dynamic_batching.default_queue_policy"));
  std::vector<uint64_t> keys;
  for (const auto& [level, policy] : batching.priority_queue_policy()) keys.push_back(level);
  std::sort(keys.begin(), keys.end());  // report the same error every time
  for (uint64_t level : keys) {
    const std::string path = absl::StrCat("dynamic_batching.priority_queue_policy[", level, "]");
    if (level < 1 || level > levels) {
      return Error(path, absl::StrCat("priority level must be in [1, priority_levels=", levels,
                                      "]"));
    }
    RETURN_IF_ERROR(CheckQueuePolicy(batching.priority_queue_policy().at(level), path));
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckWarmup() const {
  const int max_rows = std::max(config_.max_batch_size(), 1);
  if (config_.model_warmup_size() > kMaxWarmups) {
    return Error("model_warmup", absl::StrCat("lists ", config_.model_warmup_size(),
                                              " warm-ups; at most ", kMaxWarmups, " allowed"));
  }
  int64_t total_bytes = 0;  // every warm-up input, batch included: <= kMaxWarmupBytes
  for (int i = 0; i < config_.model_warmup_size(); ++i) {
    const config::ModelWarmup& warmup = config_.model_warmup(i);
    const std::string path = absl::StrCat("model_warmup[", i, "]");
    if (warmup.name().empty()) return Error(path + ".name", "must not be empty");
    if (warmup.batch_size() < 1 || warmup.batch_size() > static_cast<uint32_t>(max_rows)) {
      return Error(path + ".batch_size",
                   absl::StrCat("warmup '", warmup.name(), "': must be in [1, ", max_rows,
                                "] (max(max_batch_size, 1)), got ", warmup.batch_size()));
    }
    if (warmup.count() > kMaxWarmupCount) {
      return Error(path + ".count", absl::StrCat("warmup '", warmup.name(), "': must be in [0, ",
                                                 kMaxWarmupCount, "] (0 means 1), got ",
                                                 warmup.count()));
    }
    std::vector<std::string> names;
    for (const auto& [name, input] : warmup.inputs()) names.push_back(name);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const config::ModelWarmup::Input& input = warmup.inputs().at(name);
      const std::string input_path = absl::StrCat(path, ".inputs['", name, "']");
      const std::string what = absl::StrCat("warmup '", warmup.name(), "' input '", name, "'");
      const config::ModelInput* declared = nullptr;
      for (const config::ModelInput& model_input : config_.input()) {
        if (model_input.name() == name) declared = &model_input;
      }
      if (declared == nullptr && config_.input_size() > 0) {
        return Error(input_path, absl::StrCat(what, ": the model has no input named '", name,
                                              "'"));
      }
      RETURN_IF_ERROR(CheckDataType(input.data_type(), input_path + ".data_type", what));
      if (declared != nullptr && input.data_type() != declared->data_type()) {
        return Error(input_path + ".data_type",
                     absl::StrCat(what, ": is ", config::DataType_Name(input.data_type()),
                                  " but the input is declared ",
                                  config::DataType_Name(declared->data_type())));
      }
      if (input.dims_size() > kMaxRank) {
        return Error(input_path + ".dims", absl::StrCat(what, ": at most ", kMaxRank,
                                                        " dimensions, got ", input.dims_size()));
      }
      for (int j = 0; j < input.dims_size(); ++j) {
        if (input.dims(j) < 1 || input.dims(j) > kMaxDimension) {
          return Error(absl::StrCat(input_path, ".dims[", j, "]"),
                       absl::StrCat(what, ": warmup dimensions must be in ",
                                    Range(1, kMaxDimension), ", got ", input.dims(j)));
        }
      }
      if (declared != nullptr) {
        bool matches = input.dims_size() == declared->dims_size();
        for (int j = 0; matches && j < input.dims_size(); ++j) {
          matches = declared->dims(j) == -1 || declared->dims(j) == input.dims(j);
        }
        if (!matches) {
          return Error(input_path + ".dims",
                       absl::StrCat(what, ": shape ",
                                    ShapeToString(Shape(input.dims().begin(), input.dims().end())),
                                    " does not fit the declared dims ",
                                    ShapeToString(Shape(declared->dims().begin(),
                                                        declared->dims().end()))));
        }
      }
      RETURN_IF_ERROR(CheckItemSize(input.dims(), input.data_type(), input_path + ".dims", what));
      // The item fits kMaxItemBytes (2^30), the batch 2^16 rows: no overflow.
      int64_t item_elements = 1;
      for (int64_t d : input.dims()) item_elements *= d;
      const std::optional<DataType> dtype = ToCoreDataType(input.data_type());
      const int64_t element_bytes =
          std::max<int64_t>(1, dtype.has_value() ? DataTypeSize(*dtype) : 1);
      total_bytes += item_elements * element_bytes * static_cast<int64_t>(warmup.batch_size());
      if (total_bytes > kMaxWarmupBytes) {
        return Error(input_path + ".dims",
                     absl::StrCat(what, ": the warm-up inputs (batch_size ", warmup.batch_size(),
                                  " included) would take more than ", kMaxWarmupBytes,
                                  " bytes in all; allowed: [0, ", kMaxWarmupBytes, "]"));
      }
      if (input.input_data_type_case() ==
          config::ModelWarmup::Input::INPUT_DATA_TYPE_NOT_SET) {
        return Error(input_path,
                     absl::StrCat(what, ": set one of zero_data, random_data, input_data_file"));
      }
      if (input.input_data_type_case() == config::ModelWarmup::Input::kInputDataFile) {
        RETURN_IF_ERROR(CheckRelativeFileName(
            input.input_data_file(),
            absl::StrCat(file_name_, ": ", input_path, ".input_data_file: ", what)));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckRouting() const {
  if (!config_.has_routing()) return absl::OkStatus();
  const config::RoutingConfig& routing = config_.routing();
  absl::flat_hash_set<std::string> names;
  double total = 0;
  for (int i = 0; i < routing.variant_size(); ++i) {
    const config::RoutingConfig::Variant& variant = routing.variant(i);
    const std::string path = absl::StrCat("routing.variant[", i, "]");
    if (variant.name().empty()) return Error(path + ".name", "must not be empty");
    if (!names.insert(variant.name()).second) {
      return Error(path + ".name", absl::StrCat("duplicate variant name '", variant.name(), "'"));
    }
    if (!std::isfinite(variant.weight()) || variant.weight() < 0) {
      return Error(path + ".weight", absl::StrCat("variant '", variant.name(),
                                                  "': must be finite and >= 0, got ",
                                                  variant.weight()));
    }
    total += variant.weight();
  }
  if (routing.variant_size() > 0 && total <= 0) {
    return Error("routing.variant", "weights are all zero; no variant would receive traffic");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRelativeFileName(std::string_view name, std::string_view field) {
  const absl::string_view shown(field.data(), field.size());
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        shown, ": '", absl::string_view(name.data(), std::min<size_t>(name.size(), 256)), "' ",
        why));
  };
  if (name.empty()) return bad("is empty; name a file inside the model's directory");
  if (name.size() > kMaxFileNameBytes) {
    return bad(absl::StrCat("is longer than ", kMaxFileNameBytes, " bytes"));
  }
  if (name.find('\0') != std::string_view::npos || name.find('\\') != std::string_view::npos) {
    return bad("contains a NUL or backslash character");
  }
  if (name.front() == '/') {
    return bad("is an absolute path; it must be relative to the model's directory");
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(start, end - start);
    if (part == "..") return bad("has a '..' component; it must stay inside the model's directory");
    if (part == "." || (part.empty() && end != name.size())) {
      return bad("has an empty or '.' component");
    }
    start = end + 1;
  }
  if (name.back() == '/') return bad("names a directory, not a file");
  return absl::OkStatus();
}

absl::Status ValidateModelConfig(const config::ModelConfig& config,
                                 std::string_view file_name) {
  return Validator(config, file_name).Run();
}

}  // namespace ptserve
