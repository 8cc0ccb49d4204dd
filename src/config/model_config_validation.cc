#include "config/model_config_validation.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/tensor.h"

namespace ptserve {
namespace {

using Int64List = google::protobuf::RepeatedField<int64_t>;

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
  if (config_.max_batch_size() < 0) {
    return Error("max_batch_size", absl::StrCat("must be >= 0, got ", config_.max_batch_size()));
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
  if (!platform.empty() && platform != "pytorch_libtorch" && platform != "torchscript") {
    return Error("platform", absl::StrCat("'", platform,
                                          "' is not supported; ptserve serves TorchScript "
                                          "('pytorch_libtorch' or 'torchscript')"));
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
  if (policy.has_latest() && policy.latest().num_versions() < 1) {
    return Error("version_policy.latest.num_versions", "must be >= 1");
  }
  if (policy.has_specific()) {
    if (policy.specific().versions().empty()) {
      return Error("version_policy.specific.versions", "must list at least one version");
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
  for (int i = 0; i < dims.size(); ++i) {
    if (dims[i] < 1 && dims[i] != -1) {
      return Error(absl::StrCat(path, "[", i, "]"),
                   absl::StrCat(what, ": dimension must be >= 1 or -1, got ", dims[i]));
    }
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
    if (output.has_reshape()) {
      RETURN_IF_ERROR(CheckReshape(output.dims(), output.reshape(), path, what));
    }
  }
  return absl::OkStatus();
}

absl::Status Validator::CheckInstanceGroups() const {
  for (int i = 0; i < config_.instance_group_size(); ++i) {
    const config::ModelInstanceGroup& group = config_.instance_group(i);
    const std::string path = absl::StrCat("instance_group[", i, "]");
    if (group.count() < 0) {
      return Error(path + ".count", absl::StrCat("must be >= 0, got ", group.count()));
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
    for (int j = 0; j < group.gpus_size(); ++j) {
      if (group.gpus(j) < 0) {
        return Error(absl::StrCat(path, ".gpus[", j, "]"),
                     absl::StrCat("must be >= 0, got ", group.gpus(j)));
      }
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
                 absl::StrCat("must be <= ", kMaxTimeoutMicroseconds, " (1 year), got ",
                              policy.default_timeout_microseconds()));
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
                 absl::StrCat("must be <= ", kMaxQueueDelayMicroseconds, " (1 minute), got ",
                              batching.max_queue_delay_microseconds()));
  }
  const uint64_t levels = batching.priority_levels();
  const uint64_t default_level = batching.default_priority_level();
  if (levels == 0 && default_level != 0) {
    return Error("dynamic_batching.default_priority_level",
                 "must not be set when priority_levels is 0");
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
  for (int i = 0; i < config_.model_warmup_size(); ++i) {
    const config::ModelWarmup& warmup = config_.model_warmup(i);
    const std::string path = absl::StrCat("model_warmup[", i, "]");
    if (warmup.name().empty()) return Error(path + ".name", "must not be empty");
    if (warmup.batch_size() < 1 || warmup.batch_size() > static_cast<uint32_t>(max_rows)) {
      return Error(path + ".batch_size",
                   absl::StrCat("warmup '", warmup.name(), "': must be in [1, ", max_rows,
                                "] (max(max_batch_size, 1)), got ", warmup.batch_size()));
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
      for (int j = 0; j < input.dims_size(); ++j) {
        if (input.dims(j) < 1) {
          return Error(absl::StrCat(input_path, ".dims[", j, "]"),
                       absl::StrCat(what, ": warmup dimensions must be >= 1, got ",
                                    input.dims(j)));
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
      if (input.input_data_type_case() ==
          config::ModelWarmup::Input::INPUT_DATA_TYPE_NOT_SET) {
        return Error(input_path,
                     absl::StrCat(what, ": set one of zero_data, random_data, input_data_file"));
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

absl::Status ValidateModelConfig(const config::ModelConfig& config,
                                 std::string_view file_name) {
  return Validator(config, file_name).Run();
}

}  // namespace ptserve
