#include "repository/load_plan.h"

#include <algorithm>
#include <filesystem>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "config/model_config_validation.h"
#include "core/status_macros.h"
#include "repository/model_files.h"

namespace ptserve {
namespace fs = std::filesystem;
namespace {

// The specs of a config's `input` or `output` fields.
template <typename Field>
std::vector<TensorSpec> Specs(const google::protobuf::RepeatedPtrField<Field>& fields) {
  std::vector<TensorSpec> specs;
  for (const Field& field : fields) {
    TensorSpec spec;
    spec.name = field.name();
    spec.dtype = ToCoreDataType(field.data_type()).value_or(DataType::kFp32);
    spec.dims.assign(field.dims().begin(), field.dims().end());
    if constexpr (std::is_same_v<Field, config::ModelInput>) spec.optional = field.optional();
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

std::vector<int64_t> VersionDirs(const std::string& dir) {
  std::vector<int64_t> versions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    int64_t v;
    if (entry.is_directory() && absl::SimpleAtoi(entry.path().filename().string(), &v) && v > 0) {
      versions.push_back(v);
    }
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

absl::StatusOr<std::vector<int64_t>> SelectVersions(const config::ModelVersionPolicy& policy,
                                                    const std::vector<int64_t>& available,
                                                    const std::string& config_file) {
  std::vector<int64_t> versions;
  if (policy.has_all()) return available;
  if (policy.has_specific()) {
    for (int64_t v : policy.specific().versions()) {
      if (std::find(available.begin(), available.end(), v) == available.end()) {
        return absl::NotFoundError(absl::StrCat(config_file, ": version_policy names version ", v,
                                                ", which has no directory"));
      }
      if (std::find(versions.begin(), versions.end(), v) == versions.end()) versions.push_back(v);
    }
    std::sort(versions.begin(), versions.end());
    return versions;
  }
  const size_t n = policy.has_latest() ? std::max<uint32_t>(1, policy.latest().num_versions()) : 1;
  const size_t first = available.size() > n ? available.size() - n : 0;
  versions.assign(available.begin() + first, available.end());
  return versions;
}

absl::StatusOr<LoadPlan> PlanModel(const std::string& root, const std::string& name,
                                   const std::optional<config::ModelConfig>& config_override) {
  LoadPlan plan;
  plan.dir = (fs::path(root) / name).string();
  if (!fs::is_directory(plan.dir)) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' is not in the repository"));
  }
  plan.config_file = (fs::path(plan.dir) / "config.pbtxt").string();
  if (config_override) {
    plan.config = *config_override;
    plan.config_file = absl::StrCat("config override for '", name, "'");
    plan.warnings = UnsupportedFieldWarnings(plan.config);
  } else if (fs::exists(plan.config_file)) {
    ASSIGN_OR_RETURN(std::string text, ReadFileAtMost(plan.config_file, kMaxConfigFileBytes));
    ASSIGN_OR_RETURN(ParsedModelConfig parsed, ParseModelConfig(text, plan.config_file));
    plan.config = std::move(parsed.config);
    plan.warnings = std::move(parsed.warnings);
  } else {
    plan.warnings.push_back(absl::StrCat(
        "no config.pbtxt: assumed platform pytorch_libtorch, max_batch_size 0 (no batching), "
        "one CPU instance, the latest version"));
  }
  if (plan.config.name().empty()) plan.config.set_name(name);
  if (plan.config.name() != name) {
    return absl::InvalidArgumentError(absl::StrCat(plan.config_file, ": name '", plan.config.name(),
                                                   "' does not match the directory '", name, "'"));
  }
  RETURN_IF_ERROR(ValidateModelConfig(plan.config, plan.config_file));
  ASSIGN_OR_RETURN(plan.params, ParseModelParameters(plan.config));
  for (const std::string& w : plan.params.warnings) plan.warnings.push_back(w);
  plan.inputs = Specs(plan.config.input());
  plan.outputs = Specs(plan.config.output());

  if (plan.config.has_routing()) return plan;  // a router has no versions of its own
  ASSIGN_OR_RETURN(plan.versions, SelectVersions(plan.config.version_policy(),
                                                 VersionDirs(plan.dir), plan.config_file));
  if (plan.versions.empty()) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' has no version directory (",
                                            plan.dir, "/<n>/model.pt or model.pt2)"));
  }
  return plan;
}

InputDimLimits DimLimits(const ModelParameters& params) {
  InputDimLimits limits;
  limits.max_variable_dim = params.max_sequence_length;
  limits.per_input = params.max_input_dims;
  return limits;
}

SchedulerOptions MakeSchedulerOptions(const LoadPlan& plan, const std::vector<TensorSpec>& inputs,
                                      const std::vector<TensorSpec>& outputs,
                                      size_t default_queue) {
  const config::ModelConfig& c = plan.config;
  SchedulerOptions o;
  o.name = c.name();
  o.max_batch_size = c.max_batch_size();
  for (const TensorSpec& spec : inputs) o.input_names.push_back(spec.name);
  o.max_queue_size = default_queue;
  if (c.has_dynamic_batching()) {
    const auto& db = c.dynamic_batching();
    o.dynamic_batching = true;
    o.preferred_batch_sizes.assign(db.preferred_batch_size().begin(),
                                   db.preferred_batch_size().end());
    o.max_queue_delay_us = static_cast<int64_t>(db.max_queue_delay_microseconds());
    o.preserve_ordering = db.preserve_ordering();
    o.priority_levels = static_cast<int>(db.priority_levels());
    o.default_priority_level = static_cast<int>(db.default_priority_level());
    if (db.has_default_queue_policy()) {
      const auto& q = db.default_queue_policy();
      if (q.max_queue_size() > 0) o.max_queue_size = q.max_queue_size();
      o.default_timeout_us = static_cast<int64_t>(q.default_timeout_microseconds());
      o.allow_timeout_override =
          q.allow_timeout_override() || q.default_timeout_microseconds() == 0;
      o.timeout_delays = q.timeout_action() == config::ModelQueuePolicy::DELAY;
    }
  }
  o.padding.resize(inputs.size());
  for (const auto& [name, value] : plan.params.pad_inputs) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].name == name) o.padding[i] = InputPadding{true, value};
    }
  }
  for (const std::string& name : plan.params.trim_outputs) {
    for (size_t k = 0; k < outputs.size(); ++k) {
      if (outputs[k].name == name) o.trim_outputs.push_back(static_cast<int>(k));
    }
  }
  return o;
}

std::vector<InstanceOptions> InstancePlacements(const LoadPlan& plan, int available_cpus) {
  std::vector<InstanceOptions> placements;
  for (const auto& group : plan.config.instance_group()) {
    const int count = std::max(1, group.count());
    auto place = [&](const std::string& device) {
      for (int i = 0; i < count; ++i) placements.push_back({0, 1, device});
    };
    if (group.kind() != config::ModelInstanceGroup::KIND_GPU) {
      place("cpu");
    } else if (group.gpus().empty()) {
      place("cuda:0");
    } else {
      for (int gpu : group.gpus()) place(absl::StrCat("cuda:", gpu));
    }
  }
  if (placements.empty()) placements.push_back({0, 1, "cpu"});
  const int intra = plan.params.intra_op_threads > 0
                        ? plan.params.intra_op_threads
                        : std::max(1, available_cpus / static_cast<int>(placements.size()));
  for (size_t i = 0; i < placements.size(); ++i) {
    placements[i].index = static_cast<int>(i);
    placements[i].intra_op_threads = intra;
  }
  return placements;
}

}  // namespace ptserve
