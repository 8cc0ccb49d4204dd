#include "repository/model_repository.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <new>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "config/model_config.h"
#include "core/status_macros.h"
#include "repository/load_plan.h"
#include "repository/model_autotune.h"
#include "repository/model_files.h"
#include "repository/model_platform.h"
#include "repository/tensor_reshape.h"
#include "repository/warmup.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace fs = std::filesystem;
namespace {

// What an exception says, for messages and the index.
std::string DescribeException(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    return "out of memory (std::bad_alloc)";
  } catch (const std::system_error& e) {
    return absl::StrCat(e.what(), " (std::system_error)");
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an unknown exception";
  }
}

absl::StatusOr<std::shared_ptr<ModelVersion>> LoadVersion(const LoadPlan& planned, int64_t version,
                                                          const ModelRepository::Options& options) {
  LoadPlan plan = planned;  // the backend may narrow it (batch_limit)
  const config::ModelConfig& c = plan.config;
  BackendLoadRequest request;
  request.model_name = c.name();
  request.version_dir = (fs::path(plan.dir) / std::to_string(version)).string();
  // No platform in the config: from the files (model.pt2 alone = AOTInductor).
  request.platform = ModelPlatform(c, request.version_dir);
  plan.config.set_platform(request.platform);  // metadata and /config show what serves it
  request.model_file = c.default_model_filename().empty() ? DefaultModelFile(request.platform)
                                                          : c.default_model_filename();
  // Confined to the version directory, symlinks resolved (the config may come
  // from the management API: any other file would load as code).
  RETURN_IF_ERROR(ResolveFileInside(request.version_dir, request.model_file,
                                    absl::StrCat(plan.config_file, ": ",
                                                 c.default_model_filename().empty()
                                                     ? "model file"
                                                     : "default_model_filename"))
                      .status());
  // Operator libraries first: the model may call their operators. Confined
  // to the model's directory, like its model files (a library is code).
  for (const std::string& name : plan.params.operator_libraries) {
    ASSIGN_OR_RETURN(const std::string path,
                     ResolveFileInside(plan.dir, name,
                                       absl::StrCat(plan.config_file,
                                                    ": parameter OPERATOR_LIBRARIES")));
    if (!options.load_operator_library) {
      return absl::FailedPreconditionError(absl::StrCat(
          plan.config_file, ": parameter OPERATOR_LIBRARIES: this server loads no operator "
          "libraries"));
    }
    RETURN_IF_ERROR(options.load_operator_library(path, absl::StrCat("model '", c.name(), "'")));
  }
  if (plan.params.inter_op_threads > 0 && options.inter_op_threads > 0 &&
      plan.params.inter_op_threads != options.inter_op_threads) {
    // Triton sets it per model, but libtorch's pool is sized once per process: only the
    // first model would get it, silently.
    return absl::InvalidArgumentError(absl::StrCat(
        plan.config_file, ": parameter INTER_OP_THREAD_COUNT ", plan.params.inter_op_threads,
        ": libtorch's inter-op thread pool is one per process, and this server's has ",
        options.inter_op_threads,
        " thread(s) (--inter-op-threads); start the server with "
        "--inter-op-threads ",
        plan.params.inter_op_threads, " or remove the parameter"));
  }
  request.batched = c.max_batch_size() > 0;
  // Triton's reshape: the backend sees the model-side shapes.
  TensorReshapes reshapes;
  for (const auto& in : c.input()) {
    reshapes.inputs.push_back(
        in.has_reshape()
            ? std::optional<Shape>(Shape(in.reshape().shape().begin(), in.reshape().shape().end()))
            : std::nullopt);
  }
  for (const auto& out : c.output()) {
    reshapes.outputs.push_back(out.has_reshape()
                                   ? std::optional<Shape>(Shape(out.reshape().shape().begin(),
                                                                out.reshape().shape().end()))
                                   : std::nullopt);
  }
  request.inputs = ModelSideSpecs(plan.inputs, reshapes.inputs);
  request.outputs = ModelSideSpecs(plan.outputs, reshapes.outputs);
  request.parameters = plan.params.backend;
  if (c.model_warmup_size() > 0) {
    // The config's warm-up inputs also check load-time optimisations.
    ASSIGN_OR_RETURN(std::vector<WarmupRun> runs, WarmupRequests(plan, plan.inputs, request.batched,
                                                    options.max_tensor_elements));
    for (const WarmupRun& run : runs) {
      std::vector<Tensor> ordered;
      for (const TensorSpec& spec : plan.inputs) {
        for (const NamedTensor& t : run.request.inputs) {
          if (t.name == spec.name) ordered.push_back(t.tensor);
        }
      }
      if (ordered.size() != plan.inputs.size()) continue;
      for (size_t i = 0; i < ordered.size(); ++i) {
        if (!reshapes.inputs[i]) continue;
        absl::StatusOr<Tensor> reshaped =
            Reshape(std::move(ordered[i]), *reshapes.inputs[i], request.batched);
        if (!reshaped.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(plan.config_file, ": model_warmup input '",
                                                         plan.inputs[i].name,
                                                         "': ", reshaped.status().message()));
        }
        ordered[i] = std::move(*reshaped);
      }
      request.sample_inputs.push_back(std::move(ordered));
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<LoadedModel> model, options.backend->Load(request));
  model = ReshapeModel(std::move(model), plan.inputs, plan.outputs, std::move(reshapes),
                       request.batched);
  for (const std::string& note : model->notes()) {
    spdlog::warn("model '{}' version {}: {}", c.name(), version, note);
  }
  if (const int64_t limit = model->batch_limit(); limit > 0 && c.max_batch_size() > limit) {
    // E.g. an AOTInductor package exported with a static batch of 1.
    plan.config.set_max_batch_size(static_cast<int32_t>(limit));
    if (limit == 1) plan.config.clear_dynamic_batching();
  }

  // The warm-up requests (read or generated once) are also what AUTOTUNE measures with.
  ASSIGN_OR_RETURN(
      std::vector<WarmupRun> runs,
      WarmupRequests(plan, model->inputs(), c.max_batch_size() > 0, options.max_tensor_elements));
  std::optional<AutotuneResult> tuned;
  if (plan.params.autotune) {
    absl::StatusOr<AutotuneResult> result =
        AutotuneModel(plan, *model, runs,
                      {options.available_cpus, options.autotune_budget_ms,
                       options.max_tensor_elements, options.exchange_blas_threads});
    if (result.ok()) {
      tuned = std::move(*result);
    } else {
      // The model may still serve as configured: a tuning hint does not take it down.
      spdlog::warn(
          "model '{}' version {}: AUTOTUNE could not measure the model ({}); serving "
          "the config as written",
          c.name(), version, std::string(result.status().message()));
    }
  }
  const std::vector<InstanceOptions> placements = InstancePlacements(plan, options.available_cpus);
  const int intra = placements.front().intra_op_threads;
  std::vector<std::unique_ptr<ModelInstance>> instances;
  for (const InstanceOptions& placement : placements) {
    ASSIGN_OR_RETURN(auto instance, model->CreateInstance(placement));
    instances.push_back(std::move(instance));
  }
  SchedulerOptions sched = MakeSchedulerOptions(plan, model->inputs(), model->outputs(),
                                                options.default_max_queue_size);
  sched.cpu_budget = options.cpu_budget;
  sched.threads_per_execution = intra;
  sched.max_batch_elements = options.max_tensor_elements;
  sched.max_batch_bytes = options.max_batch_bytes;
  sched.inline_when_idle = options.inline_when_idle;
  sched.worker_spin_us = options.worker_spin_us;
  std::shared_ptr<metrics::ModelMetrics> model_metrics =
      options.metrics->ForModel(c.name(), std::to_string(version));
  sched.metrics = model_metrics.get();
  ASSIGN_OR_RETURN(auto scheduler, Scheduler::Create(std::move(sched), std::move(instances)));
  auto loaded =
      ModelVersion::Create(c.name(), version, c, model, std::move(scheduler),
                           std::move(model_metrics), *options.metrics, DimLimits(plan.params));
  if (runs.empty()) {
    spdlog::warn("model '{}' version {}: no warm-up (no model_warmup and no input shapes to "
                 "generate one from); the first requests will be slower", c.name(), version);
  }
  RETURN_IF_ERROR(RunWarmup(runs, *loaded));
  loaded->set_autotune(std::move(tuned));
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
  MutexLock load_lock(load_mu_);
  try {
    return LoadUnguarded(name, config_override);
  } catch (...) {
    // LoadUnguarded catches what loading throws; this is what is left (e.g.
    // std::bad_alloc while recording the outcome). The model must not stay
    // "loading" for good.
    const std::string why = DescribeException(std::current_exception());
    spdlog::error("model '{}' failed to load: {}", name, why);
    WriterMutexLock lock(mu_);
    auto it = models_.find(name);
    if (it != models_.end()) {
      it->second.loading = false;
      it->second.status = {
          {name, "", ModelState::kUnavailable, absl::StrCat("load failed: ", why)}};
    }
    return absl::InternalError(absl::StrCat("model '", name, "' failed to load: ", why));
  }
}

absl::Status ModelRepository::LoadUnguarded(
    const std::string& name, const std::optional<config::ModelConfig>& config_override) {
  std::error_code ec;
  const bool in_repository = fs::is_directory(fs::path(options_.root) / name, ec);
  {
    WriterMutexLock lock(mu_);
    auto it = models_.find(name);
    if (!in_repository && it == models_.end()) {
      // Nothing to load and nothing loaded: leave no trace (readiness, the
      // index and the metrics only know models of the repository).
      return absl::NotFoundError(absl::StrCat("model '", name, "' is not in the repository"));
    }
    ModelEntry& entry = models_[name];
    entry.loading = true;
    entry.wanted = true;
  }
  std::map<int64_t, std::shared_ptr<ModelVersion>> loaded;
  std::vector<RepositoryIndexEntry> status;
  std::vector<int64_t> failed;
  absl::Status result = absl::OkStatus();
  absl::StatusOr<LoadPlan> plan;
  try {
    plan = PlanModel(options_.root, name, config_override);
  } catch (...) {
    plan = absl::InternalError(absl::StrCat("reading the model's configuration failed: ",
                                            DescribeException(std::current_exception())));
  }
  if (!plan.ok()) {
    result = plan.status();
    status.push_back({name, "", ModelState::kUnavailable, std::string(result.message())});
    if (in_repository) RecordState(name, "", ModelState::kUnavailable);
  } else if (plan->config.has_routing()) {
    auto router = TrafficRouter::Create(plan->config.routing(), name);
    if (!router.ok()) {
      result = router.status();
      status.push_back({name, "", ModelState::kUnavailable, std::string(result.message())});
    } else {
      std::map<int64_t, std::shared_ptr<ModelVersion>> retired;
      {
        WriterMutexLock lock(mu_);
        ModelEntry& entry = models_[name];
        entry.loading = false;
        entry.router = *router;
        retired.swap(entry.versions);
        entry.status = {{name, "", ModelState::kReady, ""}};
      }
      ForgetState(name, "");
      for (const auto& [v, old] : retired)
        RecordState(name, std::to_string(v), ModelState::kUnloaded);
      spdlog::info("model '{}' routes traffic to {} variant(s)", name, (*router)->Variants().size());
      return absl::OkStatus();  // `retired` goes here, as below
    }
  } else {
    ForgetState(name, "");
    for (const std::string& w : plan->warnings) spdlog::warn("model '{}': {}", name, w);
    for (int64_t v : plan->versions) {
      const std::string vs = std::to_string(v);
      RecordState(name, vs, ModelState::kLoading);
      const auto started = std::chrono::steady_clock::now();
      absl::StatusOr<std::shared_ptr<ModelVersion>> version;
      try {
        version = LoadVersion(*plan, v, options_);
      } catch (...) {
        // Whatever escapes a backend, a warm-up or starting threads
        // (std::bad_alloc, std::system_error, ...) fails this version only.
        version = absl::InternalError(absl::StrCat("loading failed: ",
                                                   DescribeException(std::current_exception())));
      }
      if (version.ok()) {
        options_.metrics->SetModelLoadDuration(
            name, vs, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        RecordState(name, vs, ModelState::kReady);
        options_.metrics->SetAccelerationDifference(name, vs,
                                                    (*version)->acceleration_difference());
        if (const std::optional<AutotuneResult>& tuned = (*version)->autotune()) {
          options_.metrics->SetAutotune(
              name, vs,
              metrics::AutotuneChoice{tuned->chosen.instances, tuned->chosen.intra_op_threads,
                                      tuned->chosen.batch, tuned->chosen_rows_per_second,
                                      tuned->seconds});
        } else {
          options_.metrics->SetAutotune(name, vs, std::nullopt);
        }
        loaded[v] = *version;
        status.push_back({name, vs, ModelState::kReady, ""});
      } else {
        spdlog::error("model '{}' version {} failed to load: {}", name, v,
                      std::string(version.status().message()));
        status.push_back(
            {name, vs, ModelState::kUnavailable, std::string(version.status().message())});
        failed.push_back(v);
        if (result.ok()) result = version.status();
      }
    }
  }
  std::map<int64_t, std::shared_ptr<ModelVersion>> retired;
  std::set<int64_t> kept;
  std::set<int64_t> now_serving;  // `loaded` is moved into the entry below
  for (const auto& [v, version] : loaded) now_serving.insert(v);
  {
    WriterMutexLock lock(mu_);
    ModelEntry& entry = models_[name];
    entry.loading = false;
    if (!loaded.empty()) {
      retired.swap(entry.versions);
      entry.versions = std::move(loaded);
      entry.router.reset();
      entry.status = status;
    } else {
      // Nothing new loaded: whatever served before keeps serving, and the
      // index says so beside the reason this load failed.
      std::vector<RepositoryIndexEntry> merged;
      for (const auto& [v, version] : entry.versions) {
        kept.insert(v);
        merged.push_back({name, std::to_string(v), ModelState::kReady, ""});
      }
      if (entry.router) merged.push_back({name, "", ModelState::kReady, ""});
      const bool serving = !merged.empty();
      for (RepositoryIndexEntry s : status) {
        bool replaced = false;
        for (RepositoryIndexEntry& m : merged) {
          if (m.version == s.version) {
            m.reason = absl::StrCat("still serving the previous load; this load failed: ",
                                    s.reason);
            replaced = true;
          }
        }
        if (!replaced) {
          if (serving) s.reason = absl::StrCat(s.reason, " (the previous versions keep serving)");
          merged.push_back(std::move(s));
        }
      }
      entry.status = std::move(merged);
    }
  }
  for (int64_t v : failed) {
    // A failed reload of a version that keeps serving stays READY.
    RecordState(name, std::to_string(v),
                kept.count(v) > 0 ? ModelState::kReady : ModelState::kUnavailable);
  }
  for (const auto& [v, old] : retired) {
    if (now_serving.count(v) == 0 && std::find(failed.begin(), failed.end(), v) == failed.end()) {
      RecordState(name, std::to_string(v), ModelState::kUnloaded);
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

void ModelRepository::RecordState(const std::string& name, const std::string& version,
                                  ModelState state) {
  {
    MutexLock lock(states_mu_);
    auto [it, inserted] = states_.try_emplace({name, version}, ModelState::kUnloaded);
    if (!IsAllowedTransition(it->second, state)) {
      ++invalid_transitions_;
      spdlog::error(
          "model '{}' version '{}': state {} -> {} is not a transition of the model "
          "state machine (a bug)",
          name, version, ModelStateName(it->second), ModelStateName(state));
    }
    it->second = state;
  }
  options_.metrics->SetModelState(name, version, state);
}

void ModelRepository::ForgetState(const std::string& name, const std::string& version) {
  {
    MutexLock lock(states_mu_);
    states_.erase({name, version});
  }
  options_.metrics->RemoveModelVersion(name, version);
}

std::optional<ModelState> ModelRepository::VersionState(const std::string& name,
                                                        const std::string& version) const {
  MutexLock lock(states_mu_);
  auto it = states_.find({name, version});
  if (it == states_.end()) return std::nullopt;
  return it->second;
}

int64_t ModelRepository::invalid_transitions() const {
  MutexLock lock(states_mu_);
  return invalid_transitions_;
}

absl::Status ModelRepository::Unload(const std::string& name) {
  RETURN_IF_ERROR(CheckModelName(name));
  std::map<int64_t, std::shared_ptr<ModelVersion>> retired;
  {
    WriterMutexLock lock(mu_);
    auto it = models_.find(name);
    if (it == models_.end()) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' is not loaded"));
    }
    retired.swap(it->second.versions);
    it->second.router.reset();
    it->second.wanted = false;
    for (auto& s : it->second.status) {
      s.state = ModelState::kUnavailable;
      s.reason = "unloaded";
    }
  }
  for (const auto& [v, old] : retired) {
    RecordState(name, std::to_string(v), ModelState::kUnloaded);
  }
  // Versions no request holds are destroyed here (see ModelVersion); the
  // others when their last request lets go.
  retired.clear();
  spdlog::info("model '{}' unloaded", name);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<ModelVersion>> ModelRepository::Get(
    const std::string& name, const std::string& version) const {
  ReaderMutexLock lock(mu_);
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
  ReaderMutexLock lock(mu_);
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second.router;
}

std::vector<std::shared_ptr<ModelVersion>> ModelRepository::Versions(const std::string& name) const {
  ReaderMutexLock lock(mu_);
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
  ReaderMutexLock lock(mu_);
  for (const std::string& name : ListModels()) {
    auto it = models_.find(name);
    if (it == models_.end()) {
      if (!ready_only) out.push_back({name, "", ModelState::kUnloaded, ""});
      continue;
    }
    if (it->second.loading && !ready_only) out.push_back({name, "", ModelState::kLoading, ""});
    for (const auto& s : it->second.status) {
      if (!ready_only || s.state == ModelState::kReady) out.push_back(s);
    }
  }
  return out;
}

bool ModelRepository::AllReady() const {
  if (!options_.strict_readiness) return true;
  ReaderMutexLock lock(mu_);
  for (const auto& [name, entry] : models_) {
    if (!entry.wanted) continue;  // unloaded, or never asked for
    if (entry.loading) return false;
    if (entry.versions.empty() && !entry.router) return false;
  }
  return true;
}

bool ModelRepository::AnyReady() const {
  ReaderMutexLock lock(mu_);
  for (const auto& [name, entry] : models_) {
    if (!entry.versions.empty() || entry.router) return true;
  }
  return false;
}

void ModelRepository::UnloadAll() {
  std::map<std::string, ModelEntry> models;
  {
    WriterMutexLock lock(mu_);
    models.swap(models_);
  }
  for (auto& [name, entry] : models) {
    for (auto& [v, version] : entry.versions) version->scheduler().Drain();
  }
}

}  // namespace ptserve
