#include "repository/model_repository.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "config/model_config.h"
#include "config/model_config_validation.h"
#include "core/half.h"
#include "core/status_macros.h"
#include "repository/model_parameters.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace fs = std::filesystem;
namespace {

// Everything decided about a model before its versions load.
struct LoadPlan {
  std::string dir;
  std::string config_file;
  config::ModelConfig config;
  ModelParameters params;
  std::vector<TensorSpec> inputs;   // from the config; empty = derive
  std::vector<TensorSpec> outputs;
  std::vector<int64_t> versions;
  std::vector<std::string> warnings;
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::vector<TensorSpec>> Specs(
    const google::protobuf::RepeatedPtrField<config::ModelInput>& inputs) {
  std::vector<TensorSpec> specs;
  for (const auto& in : inputs) {
    TensorSpec spec;
    spec.name = in.name();
    spec.dtype = ToCoreDataType(in.data_type()).value_or(DataType::kFp32);
    spec.dims.assign(in.dims().begin(), in.dims().end());
    spec.optional = in.optional();
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::vector<TensorSpec> OutputSpecs(
    const google::protobuf::RepeatedPtrField<config::ModelOutput>& outputs) {
  std::vector<TensorSpec> specs;
  for (const auto& out : outputs) {
    TensorSpec spec;
    spec.name = out.name();
    spec.dtype = ToCoreDataType(out.data_type()).value_or(DataType::kFp32);
    spec.dims.assign(out.dims().begin(), out.dims().end());
    specs.push_back(std::move(spec));
  }
  return specs;
}

// Numeric subdirectories of `dir`, ascending.
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
    ASSIGN_OR_RETURN(std::string text, ReadFile(plan.config_file));
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
    return absl::InvalidArgumentError(absl::StrCat(plan.config_file, ": name '",
                                                   plan.config.name(),
                                                   "' does not match the directory '", name, "'"));
  }
  RETURN_IF_ERROR(ValidateModelConfig(plan.config, plan.config_file));
  for (const auto& in : plan.config.input()) {
    if (in.has_reshape()) {
      return absl::UnimplementedError(absl::StrCat(plan.config_file, ": input '", in.name(),
                                                   "': reshape is not supported yet"));
    }
  }
  ASSIGN_OR_RETURN(plan.params, ParseModelParameters(plan.config));
  for (const std::string& w : plan.params.warnings) plan.warnings.push_back(w);
  ASSIGN_OR_RETURN(plan.inputs, Specs(plan.config.input()));
  plan.outputs = OutputSpecs(plan.config.output());

  if (plan.config.has_routing()) return plan;  // a router has no versions of its own
  const std::vector<int64_t> available = VersionDirs(plan.dir);
  const auto& policy = plan.config.version_policy();
  if (policy.has_all()) {
    plan.versions = available;
  } else if (policy.has_specific()) {
    for (int64_t v : policy.specific().versions()) {
      if (std::find(available.begin(), available.end(), v) == available.end()) {
        return absl::NotFoundError(absl::StrCat(plan.config_file, ": version_policy names version ",
                                                v, ", which has no directory"));
      }
      plan.versions.push_back(v);
    }
  } else {
    const size_t n = policy.has_latest() ? std::max<uint32_t>(1, policy.latest().num_versions()) : 1;
    const size_t first = available.size() > n ? available.size() - n : 0;
    plan.versions.assign(available.begin() + first, available.end());
  }
  if (plan.versions.empty()) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' has no version directory (",
                                            plan.dir, "/<n>/model.pt)"));
  }
  return plan;
}

SchedulerOptions MakeSchedulerOptions(const LoadPlan& plan, const std::vector<TensorSpec>& inputs,
                                      const std::vector<TensorSpec>& outputs,
                                      size_t default_queue) {
  const config::ModelConfig& c = plan.config;
  SchedulerOptions o;
  o.name = c.name();
  o.max_batch_size = c.max_batch_size();
  o.max_queue_size = default_queue;
  if (c.has_dynamic_batching()) {
    const auto& db = c.dynamic_batching();
    o.dynamic_batching = true;
    o.preferred_batch_sizes.assign(db.preferred_batch_size().begin(), db.preferred_batch_size().end());
    o.max_queue_delay_us = static_cast<int64_t>(db.max_queue_delay_microseconds());
    o.preserve_ordering = db.preserve_ordering();
    o.priority_levels = static_cast<int>(db.priority_levels());
    o.default_priority_level = static_cast<int>(db.default_priority_level());
    if (db.has_default_queue_policy()) {
      const auto& q = db.default_queue_policy();
      if (q.max_queue_size() > 0) o.max_queue_size = q.max_queue_size();
      o.default_timeout_us = static_cast<int64_t>(q.default_timeout_microseconds());
      o.allow_timeout_override = q.allow_timeout_override() || q.default_timeout_microseconds() == 0;
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

// Fills a tensor for warm-up: random values in [0, 1) for floats, ones for
// integers (a valid token id and mask), false for booleans.
absl::StatusOr<Tensor> WarmupTensor(DataType dtype, const Shape& shape, bool random, std::mt19937& rng) {
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  uint8_t* p = t.mutable_data();
  const int64_t n = t.element_count();
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DataType::kFp32: reinterpret_cast<float*>(p)[i] = random ? uniform(rng) : 0.f; break;
      case DataType::kFp64: reinterpret_cast<double*>(p)[i] = random ? uniform(rng) : 0.0; break;
      case DataType::kFp16: reinterpret_cast<uint16_t*>(p)[i] = FloatToHalf(random ? uniform(rng) : 0.f); break;
      case DataType::kBf16: reinterpret_cast<uint16_t*>(p)[i] = FloatToBf16(random ? uniform(rng) : 0.f); break;
      case DataType::kInt64: reinterpret_cast<int64_t*>(p)[i] = random ? 1 : 0; break;
      case DataType::kInt32: reinterpret_cast<int32_t*>(p)[i] = random ? 1 : 0; break;
      case DataType::kInt16: reinterpret_cast<int16_t*>(p)[i] = random ? 1 : 0; break;
      case DataType::kInt8: case DataType::kUint8: p[i] = random ? 1 : 0; break;
      default: break;  // zeros
    }
  }
  return t;
}

struct WarmupRun {
  InferenceRequest request;
  int count = 1;
};

absl::StatusOr<std::vector<WarmupRun>> WarmupRequests(const LoadPlan& plan,
                                                      const std::vector<TensorSpec>& inputs,
                                                      bool batched) {
  std::vector<WarmupRun> runs;
  std::mt19937 rng(42);
  const config::ModelConfig& c = plan.config;
  for (const auto& w : c.model_warmup()) {
    WarmupRun run;
    const int64_t batch = std::max<int64_t>(1, w.batch_size());
    for (const auto& [name, in] : w.inputs()) {
      Shape shape(in.dims().begin(), in.dims().end());
      if (batched) shape.insert(shape.begin(), batch);
      const DataType dtype = ToCoreDataType(in.data_type()).value_or(DataType::kFp32);
      Tensor t;
      if (in.input_data_type_case() == config::ModelWarmup::Input::kInputDataFile) {
        const std::string path = (fs::path(plan.dir) / "warmup" / in.input_data_file()).string();
        ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
        ASSIGN_OR_RETURN(int64_t count, ElementCount(shape));
        if (bytes.size() != count * DataTypeSize(dtype)) {
          return absl::InvalidArgumentError(absl::StrCat("model_warmup '", w.name(), "': ", path,
                                                         " has ", bytes.size(), " bytes, expected ",
                                                         count * DataTypeSize(dtype)));
        }
        t = Tensor::FromBytes(dtype, shape, std::move(bytes));
      } else {
        ASSIGN_OR_RETURN(t, WarmupTensor(dtype, shape, in.random_data(), rng));
      }
      run.request.inputs.push_back({name, std::move(t)});
    }
    run.count = std::max<int>(1, w.count());
    runs.push_back(std::move(run));
  }
  if (!runs.empty()) return runs;
  // Generated: batch 1 and the largest batch, a few times each so that the
  // TorchScript profiling executor has specialised before the first request.
  std::vector<int64_t> batches{1};
  if (batched && c.max_batch_size() > 1) batches.push_back(c.max_batch_size());
  for (int64_t batch : batches) {
    WarmupRun run;
    run.count = 3;
    for (const TensorSpec& spec : inputs) {
      if (spec.any_shape) return std::vector<WarmupRun>{};  // nothing to generate from
      Shape shape;
      if (batched) shape.push_back(batch);
      for (int64_t d : spec.dims) shape.push_back(d < 0 ? 8 : d);
      ASSIGN_OR_RETURN(Tensor t, WarmupTensor(spec.dtype, shape, true, rng));
      run.request.inputs.push_back({spec.name, std::move(t)});
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

absl::Status RunWarmup(const std::vector<WarmupRun>& runs, ModelVersion& version) {
  for (const WarmupRun& run : runs) {
    for (int i = 0; i < run.count; ++i) {
      std::promise<absl::Status> done;
      auto future = done.get_future();
      auto ticket = version.Infer(run.request, [&done](absl::StatusOr<InferenceResponse> r) {
        done.set_value(r.status());
      });
      if (!ticket.ok()) return ticket.status();
      absl::Status status = future.get();
      if (!status.ok()) {
        return absl::Status(status.code(), absl::StrCat("warm-up failed: ", status.message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<ModelVersion>> LoadVersion(const LoadPlan& plan, int64_t version,
                                                          const ModelRepository::Options& options) {
  const config::ModelConfig& c = plan.config;
  BackendLoadRequest request;
  request.model_name = c.name();
  request.version_dir = (fs::path(plan.dir) / std::to_string(version)).string();
  request.model_file = c.default_model_filename().empty() ? "model.pt" : c.default_model_filename();
  request.batched = c.max_batch_size() > 0;
  request.inputs = plan.inputs;
  request.outputs = plan.outputs;
  request.parameters = plan.params.backend;
  if (c.model_warmup_size() > 0) {
    // The config's warm-up inputs also check load-time optimisations.
    ASSIGN_OR_RETURN(std::vector<WarmupRun> runs, WarmupRequests(plan, plan.inputs, request.batched));
    for (const WarmupRun& run : runs) {
      std::vector<Tensor> ordered;
      for (const TensorSpec& spec : plan.inputs) {
        for (const NamedTensor& t : run.request.inputs) {
          if (t.name == spec.name) ordered.push_back(t.tensor);
        }
      }
      if (ordered.size() == plan.inputs.size()) request.sample_inputs.push_back(std::move(ordered));
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<LoadedModel> model, options.backend->Load(request));
  for (const std::string& note : model->notes()) {
    spdlog::warn("model '{}' version {}: {}", c.name(), version, note);
  }

  // Instances: instance_group counts (0 = 1); one CPU instance by default.
  std::vector<InstanceOptions> placements;
  for (const auto& group : c.instance_group()) {
    const int count = std::max(1, group.count());
    if (group.kind() == config::ModelInstanceGroup::KIND_GPU) {
      std::vector<int> gpus(group.gpus().begin(), group.gpus().end());
      if (gpus.empty()) gpus.push_back(0);
      for (int gpu : gpus) {
        for (int i = 0; i < count; ++i) placements.push_back({0, 1, absl::StrCat("cuda:", gpu)});
      }
    } else {
      for (int i = 0; i < count; ++i) placements.push_back({0, 1, "cpu"});
    }
  }
  if (placements.empty()) placements.push_back({0, 1, "cpu"});
  const int intra = plan.params.intra_op_threads > 0
                        ? plan.params.intra_op_threads
                        : std::max(1, options.available_cpus / static_cast<int>(placements.size()));
  std::vector<std::unique_ptr<ModelInstance>> instances;
  for (size_t i = 0; i < placements.size(); ++i) {
    placements[i].index = static_cast<int>(i);
    placements[i].intra_op_threads = intra;
    ASSIGN_OR_RETURN(auto instance, model->CreateInstance(placements[i]));
    instances.push_back(std::move(instance));
  }
  SchedulerOptions sched = MakeSchedulerOptions(plan, model->inputs(), model->outputs(),
                                                options.default_max_queue_size);
  sched.cpu_budget = options.cpu_budget;
  sched.threads_per_execution = intra;
  std::shared_ptr<metrics::ModelMetrics> model_metrics =
      options.metrics->ForModel(c.name(), std::to_string(version));
  sched.metrics = model_metrics.get();
  ASSIGN_OR_RETURN(auto scheduler, Scheduler::Create(std::move(sched), std::move(instances)));
  auto loaded = ModelVersion::Create(c.name(), version, c, model, std::move(scheduler),
                                               std::move(model_metrics), *options.metrics);
  ASSIGN_OR_RETURN(std::vector<WarmupRun> runs,
                   WarmupRequests(plan, loaded->inputs(), loaded->batched()));
  if (runs.empty()) {
    spdlog::warn("model '{}' version {}: no warm-up (no model_warmup and no input shapes to "
                 "generate one from); the first requests will be slower", c.name(), version);
  }
  RETURN_IF_ERROR(RunWarmup(runs, *loaded));
  spdlog::info("model '{}' version {} ready: {} instance(s) x {} intra-op thread(s), "
               "max_batch_size {}, dynamic batching {}", c.name(), version, placements.size(),
               intra, c.max_batch_size(), c.has_dynamic_batching() ? "on" : "off");
  return loaded;
}

}  // namespace

ModelRepository::ModelRepository(Options options) : options_(std::move(options)) {
  if (options_.metrics == nullptr) options_.metrics = &disabled_metrics_;
}

absl::StatusOr<std::unique_ptr<ModelRepository>> ModelRepository::Create(Options options) {
  if (options.backend == nullptr) return absl::InvalidArgumentError("no backend");
  if (!fs::is_directory(options.root)) {
    return absl::NotFoundError(
        absl::StrCat("model repository '", options.root, "' is not a directory"));
  }
  return std::unique_ptr<ModelRepository>(new ModelRepository(std::move(options)));
}

ModelRepository::~ModelRepository() {
  UnloadAll();
  ModelVersion::WaitForDeferredDestruction();
}

absl::Status ModelRepository::CheckModelName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name[0] == '.' ||
      name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not a valid model name"));
  }
  return absl::OkStatus();
}

std::vector<std::string> ModelRepository::ListModels() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.root, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && CheckModelName(name).ok()) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

int ModelRepository::LoadAll() {
  int failed = 0;
  for (const std::string& name : ListModels()) {
    if (!Load(name).ok()) ++failed;
  }
  return failed;
}

absl::Status ModelRepository::Load(const std::string& name,
                                   const std::optional<config::ModelConfig>& config_override) {
  RETURN_IF_ERROR(CheckModelName(name));
  std::lock_guard<std::mutex> load_lock(load_mu_);
  {
    std::unique_lock lock(mu_);
    models_[name].loading = true;
  }
  std::map<int64_t, std::shared_ptr<ModelVersion>> loaded;
  std::vector<RepositoryIndexEntry> status;
  absl::Status result = absl::OkStatus();
  absl::StatusOr<LoadPlan> plan = PlanModel(options_.root, name, config_override);
  if (!plan.ok()) {
    result = plan.status();
    status.push_back({name, "", "UNAVAILABLE", std::string(result.message())});
  } else if (plan->config.has_routing()) {
    auto router = TrafficRouter::Create(plan->config.routing(), name);
    if (!router.ok()) {
      result = router.status();
      status.push_back({name, "", "UNAVAILABLE", std::string(result.message())});
    } else {
      std::unique_lock lock(mu_);
      ModelEntry& entry = models_[name];
      entry.loading = false;
      entry.router = *router;
      entry.versions.clear();
      entry.status = {{name, "", "READY", ""}};
      spdlog::info("model '{}' routes traffic to {} variant(s)", name, (*router)->Variants().size());
      return absl::OkStatus();
    }
  } else {
    for (const std::string& w : plan->warnings) spdlog::warn("model '{}': {}", name, w);
    for (int64_t v : plan->versions) {
      const std::string vs = std::to_string(v);
      options_.metrics->SetModelState(name, vs, metrics::ModelState::kLoading);
      const auto started = std::chrono::steady_clock::now();
      auto version = LoadVersion(*plan, v, options_);
      if (version.ok()) {
        options_.metrics->SetModelLoadDuration(
            name, vs, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        options_.metrics->SetModelState(name, vs, metrics::ModelState::kReady);
        loaded[v] = *version;
        status.push_back({name, std::to_string(v), "READY", ""});
      } else {
        options_.metrics->SetModelState(name, vs, metrics::ModelState::kUnavailable);
        spdlog::error("model '{}' version {} failed to load: {}", name, v,
                      std::string(version.status().message()));
        status.push_back({name, std::to_string(v), "UNAVAILABLE",
                          std::string(std::string(version.status().message()))});
        if (result.ok()) result = version.status();
      }
    }
  }
  std::map<int64_t, std::shared_ptr<ModelVersion>> retired;
  {
    std::unique_lock lock(mu_);
    ModelEntry& entry = models_[name];
    entry.loading = false;
    entry.status = status;
    if (!loaded.empty()) {
      retired.swap(entry.versions);
      entry.versions = std::move(loaded);
      entry.router.reset();
    }
  }
  for (const auto& [v, old] : retired) {
    if (loaded.count(v) == 0) {
      options_.metrics->SetModelState(name, std::to_string(v), metrics::ModelState::kUnloaded);
    }
  }
  if (!result.ok()) {
    spdlog::error("model '{}' failed to load: {}", name, std::string(result.message()));
  }
  // Versions no request holds are destroyed here (see ModelVersion); the
  // others when their last request lets go.
  retired.clear();
  return result;
}

absl::Status ModelRepository::Unload(const std::string& name) {
  RETURN_IF_ERROR(CheckModelName(name));
  std::map<int64_t, std::shared_ptr<ModelVersion>> retired;
  {
    std::unique_lock lock(mu_);
    auto it = models_.find(name);
    if (it == models_.end()) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' is not loaded"));
    }
    retired.swap(it->second.versions);
    it->second.router.reset();
    for (auto& s : it->second.status) {
      s.state = "UNAVAILABLE";
      s.reason = "unloaded";
    }
  }
  for (const auto& [v, old] : retired) {
    options_.metrics->SetModelState(name, std::to_string(v), metrics::ModelState::kUnloaded);
  }
  // Versions no request holds are destroyed here (see ModelVersion); the
  // others when their last request lets go.
  retired.clear();
  spdlog::info("model '{}' unloaded", name);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<ModelVersion>> ModelRepository::Get(
    const std::string& name, const std::string& version) const {
  std::shared_lock lock(mu_);
  auto it = models_.find(name);
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown model '", name, "'"));
  }
  const ModelEntry& entry = it->second;
  if (version.empty()) {
    if (entry.versions.empty()) {
      std::string reason = entry.loading ? "it is loading" : "it has no ready version";
      for (const auto& s : entry.status) {
        if (!s.reason.empty()) reason = s.reason;
      }
      return absl::UnavailableError(absl::StrCat("model '", name, "' is not ready: ", reason));
    }
    return entry.versions.rbegin()->second;
  }
  int64_t v;
  if (!absl::SimpleAtoi(version, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("'", version, "' is not a model version number"));
  }
  auto found = entry.versions.find(v);
  if (found == entry.versions.end()) {
    for (const auto& s : entry.status) {
      if (s.version == version) {
        return absl::UnavailableError(absl::StrCat("model '", name, "' version ", version,
                                                   " is not ready: ", s.reason));
      }
    }
    return absl::NotFoundError(absl::StrCat("model '", name, "' has no version ", version));
  }
  return found->second;
}

std::shared_ptr<TrafficRouter> ModelRepository::Router(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second.router;
}

std::vector<std::shared_ptr<ModelVersion>> ModelRepository::Versions(const std::string& name) const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<ModelVersion>> out;
  auto it = models_.find(name);
  if (it == models_.end()) return out;
  for (auto v = it->second.versions.rbegin(); v != it->second.versions.rend(); ++v) {
    out.push_back(v->second);
  }
  return out;
}

std::vector<RepositoryIndexEntry> ModelRepository::Index(bool ready_only) const {
  std::vector<RepositoryIndexEntry> out;
  std::shared_lock lock(mu_);
  for (const std::string& name : ListModels()) {
    auto it = models_.find(name);
    if (it == models_.end()) {
      if (!ready_only) out.push_back({name, "", "UNLOADED", ""});
      continue;
    }
    if (it->second.loading && !ready_only) out.push_back({name, "", "LOADING", ""});
    for (const auto& s : it->second.status) {
      if (!ready_only || s.state == "READY") out.push_back(s);
    }
  }
  return out;
}

bool ModelRepository::AllReady() const {
  std::shared_lock lock(mu_);
  for (const auto& [name, entry] : models_) {
    if (entry.loading) return false;
    for (const auto& s : entry.status) {
      if (s.state != "READY" && s.reason != "unloaded") return false;
    }
  }
  return true;
}

bool ModelRepository::AnyReady() const {
  std::shared_lock lock(mu_);
  for (const auto& [name, entry] : models_) {
    if (!entry.versions.empty() || entry.router) return true;
  }
  return false;
}

void ModelRepository::UnloadAll() {
  std::map<std::string, ModelEntry> models;
  {
    std::unique_lock lock(mu_);
    models.swap(models_);
  }
  for (auto& [name, entry] : models) {
    for (auto& [v, version] : entry.versions) version->scheduler().Drain();
  }
}

}  // namespace ptserve
