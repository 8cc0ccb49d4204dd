#include "repository/model_repository.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <future>
#include <new>
#include <random>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "config/model_config.h"
#include "config/model_config_validation.h"
#include "core/half.h"
#include "core/status_macros.h"
#include "repository/model_files.h"
#include "repository/model_parameters.h"
#include "repository/model_platform.h"
#include "repository/tensor_reshape.h"
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

// A config.pbtxt larger than this is refused unread (the management API's
// overrides are bounded by its body limit, 16 MiB).
constexpr uint64_t kMaxConfigFileBytes = 16 << 20;

// Generated warm-up inputs (no model_warmup in the config): a variable
// dimension is given this size (or the model's limit, if smaller), and the
// largest-batch run has at most kGeneratedMaxBatch rows and fits
// kMaxWarmupBytes (the model's activations grow with the batch too).
constexpr int64_t kGeneratedVariableDim = 8;
constexpr int64_t kGeneratedMaxBatch = 64;

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

// The per-input dimension limits of a model's parameters.
InputDimLimits DimLimits(const ModelParameters& params) {
  InputDimLimits limits;
  limits.max_variable_dim = params.max_sequence_length;
  limits.per_input = params.max_input_dims;
  return limits;
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
    return absl::InvalidArgumentError(absl::StrCat(plan.config_file, ": name '",
                                                   plan.config.name(),
                                                   "' does not match the directory '", name, "'"));
  }
  RETURN_IF_ERROR(ValidateModelConfig(plan.config, plan.config_file));
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
                                            plan.dir, "/<n>/model.pt or model.pt2)"));
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
  for (const TensorSpec& spec : inputs) o.input_names.push_back(spec.name);
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

// The size a generated warm-up input gives declared dimension `d` of `spec`.
int64_t GeneratedDim(const TensorSpec& spec, size_t d, const InputDimLimits& limits) {
  const int64_t declared = spec.dims[d];
  if (declared >= 0) return declared;
  int64_t limit = limits.max_variable_dim;
  auto named = limits.per_input.find(spec.name);
  if (named != limits.per_input.end()) limit = d < named->second.size() ? named->second[d] : 0;
  return limit > 0 ? std::min(kGeneratedVariableDim, limit) : kGeneratedVariableDim;
}

// Checks that a BYTES warm-up file holds exactly `count` serialized elements
// (4-byte little-endian length, then the bytes).
absl::Status CheckSerializedBytes(const std::string& bytes, int64_t count,
                                  const std::string& what) {
  size_t pos = 0;
  int64_t elements = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 4) break;
    const uint32_t length = static_cast<uint8_t>(bytes[pos]) |
                            static_cast<uint32_t>(static_cast<uint8_t>(bytes[pos + 1])) << 8 |
                            static_cast<uint32_t>(static_cast<uint8_t>(bytes[pos + 2])) << 16 |
                            static_cast<uint32_t>(static_cast<uint8_t>(bytes[pos + 3])) << 24;
    pos += 4;
    if (bytes.size() - pos < length) break;
    pos += length;
    ++elements;
  }
  if (pos != bytes.size() || elements != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the file must hold ", count, " length-prefixed BYTES elements"));
  }
  return absl::OkStatus();
}

// `max_elements` (the server's --max-tensor-elements) also bounds the
// generated runs' tensors.
absl::StatusOr<std::vector<WarmupRun>> WarmupRequests(const LoadPlan& plan,
                                                      const std::vector<TensorSpec>& inputs,
                                                      bool batched, int64_t max_elements) {
  std::vector<WarmupRun> runs;
  std::mt19937 rng(42);
  const config::ModelConfig& c = plan.config;
  const InputDimLimits limits = DimLimits(plan.params);
  for (const auto& w : c.model_warmup()) {
    WarmupRun run;
    const int64_t batch = std::max<int64_t>(1, w.batch_size());
    for (const auto& [name, in] : w.inputs()) {
      Shape shape(in.dims().begin(), in.dims().end());
      if (batched) shape.insert(shape.begin(), batch);
      const DataType dtype = ToCoreDataType(in.data_type()).value_or(DataType::kFp32);
      // ValidateModelConfig bounded these (kMaxWarmupBytes in all).
      ASSIGN_OR_RETURN(int64_t count, ElementCount(shape));
      Tensor t;
      if (in.input_data_type_case() == config::ModelWarmup::Input::kInputDataFile) {
        const std::string what = absl::StrCat(plan.config_file, ": model_warmup '", w.name(),
                                               "' input '", name, "' input_data_file");
        ASSIGN_OR_RETURN(const std::string path,
                         ResolveFileInside(plan.dir, "warmup/" + in.input_data_file(), what));
        std::string bytes;
        if (dtype == DataType::kBytes) {
          ASSIGN_OR_RETURN(bytes, ReadFileAtMost(path, static_cast<uint64_t>(kMaxWarmupBytes)));
          RETURN_IF_ERROR(CheckSerializedBytes(bytes, count, absl::StrCat(what, " ", path)));
        } else {
          const uint64_t expected = static_cast<uint64_t>(count) * DataTypeSize(dtype);
          ASSIGN_OR_RETURN(bytes, ReadFileExactly(path, expected,
                                                  absl::StrCat(what, " (", ShapeToString(shape),
                                                               " ", std::string(DataTypeName(dtype)), ")")));
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
  // Every input's item size is known before anything is allocated; the
  // largest batch is cut down to what fits kMaxWarmupBytes.
  int64_t item_bytes = 0;
  int64_t item_elements = 1;  // the largest input's, to keep under max_elements
  for (const TensorSpec& spec : inputs) {
    if (spec.any_shape) return std::vector<WarmupRun>{};  // nothing to generate from
    Shape item;
    for (size_t d = 0; d < spec.dims.size(); ++d) item.push_back(GeneratedDim(spec, d, limits));
    absl::StatusOr<int64_t> count = ElementCount(item, kMaxWarmupBytes);
    const int64_t size = std::max<int64_t>(1, DataTypeSize(spec.dtype));
    if (!count.ok() || *count > kMaxWarmupBytes / size ||
        item_bytes > kMaxWarmupBytes - *count * size) {
      spdlog::warn("model '{}': no generated warm-up: one item of its inputs would take more than "
                   "{} bytes", c.name(), kMaxWarmupBytes);
      return std::vector<WarmupRun>{};
    }
    item_bytes += *count * size;
    item_elements = std::max(item_elements, *count);
  }
  if (max_elements > 0 && item_elements > max_elements) {
    spdlog::warn("model '{}': no generated warm-up: one item of its inputs has {} elements, more "
                 "than --max-tensor-elements {}", c.name(), item_elements, max_elements);
    return std::vector<WarmupRun>{};
  }
  std::vector<int64_t> batches{1};
  if (batched && c.max_batch_size() > 1) {
    int64_t largest = std::min<int64_t>(c.max_batch_size(), kGeneratedMaxBatch);
    if (item_bytes > 0) largest = std::min(largest, kMaxWarmupBytes / item_bytes);
    if (max_elements > 0) {
      largest = std::min(largest, max_elements / std::max<int64_t>(1, item_elements));
    }
    if (largest > 1) batches.push_back(largest);
  }
  for (int64_t batch : batches) {
    WarmupRun run;
    run.count = 3;
    for (const TensorSpec& spec : inputs) {
      Shape shape;
      if (batched) shape.push_back(batch);
      for (size_t d = 0; d < spec.dims.size(); ++d) shape.push_back(GeneratedDim(spec, d, limits));
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
        // A copy of its own, not a reference shared with the worker thread:
        // Debian's Abseil is not built with ThreadSanitizer, which then cannot
        // see that a shared Status is refcounted.
        done.set_value(r.ok() ? absl::OkStatus()
                              : absl::Status(r.status().code(), std::string(r.status().message())));
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
  sched.max_batch_elements = options.max_tensor_elements;
  sched.max_batch_bytes = options.max_batch_bytes;
  std::shared_ptr<metrics::ModelMetrics> model_metrics =
      options.metrics->ForModel(c.name(), std::to_string(version));
  sched.metrics = model_metrics.get();
  ASSIGN_OR_RETURN(auto scheduler, Scheduler::Create(std::move(sched), std::move(instances)));
  auto loaded = ModelVersion::Create(c.name(), version, c, model, std::move(scheduler),
                                    std::move(model_metrics), *options.metrics,
                                    DimLimits(plan.params));
  ASSIGN_OR_RETURN(std::vector<WarmupRun> runs,
                   WarmupRequests(plan, loaded->inputs(), loaded->batched(),
                                  options.max_tensor_elements));
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
      it->second.status = {{name, "", "UNAVAILABLE", absl::StrCat("load failed: ", why)}};
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
    status.push_back({name, "", "UNAVAILABLE", std::string(result.message())});
    if (in_repository) options_.metrics->SetModelState(name, "", metrics::ModelState::kUnavailable);
  } else if (plan->config.has_routing()) {
    auto router = TrafficRouter::Create(plan->config.routing(), name);
    if (!router.ok()) {
      result = router.status();
      status.push_back({name, "", "UNAVAILABLE", std::string(result.message())});
    } else {
      std::map<int64_t, std::shared_ptr<ModelVersion>> retired;
      {
        WriterMutexLock lock(mu_);
        ModelEntry& entry = models_[name];
        entry.loading = false;
        entry.router = *router;
        retired.swap(entry.versions);
        entry.status = {{name, "", "READY", ""}};
      }
      options_.metrics->RemoveModelVersion(name, "");
      spdlog::info("model '{}' routes traffic to {} variant(s)", name, (*router)->Variants().size());
      return absl::OkStatus();  // `retired` goes here, as below
    }
  } else {
    options_.metrics->RemoveModelVersion(name, "");
    for (const std::string& w : plan->warnings) spdlog::warn("model '{}': {}", name, w);
    for (int64_t v : plan->versions) {
      const std::string vs = std::to_string(v);
      options_.metrics->SetModelState(name, vs, metrics::ModelState::kLoading);
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
        options_.metrics->SetModelState(name, vs, metrics::ModelState::kReady);
        options_.metrics->SetAccelerationDifference(name, vs,
                                                    (*version)->acceleration_difference());
        loaded[v] = *version;
        status.push_back({name, std::to_string(v), "READY", ""});
      } else {
        options_.metrics->SetModelState(name, vs, metrics::ModelState::kUnavailable);
        spdlog::error("model '{}' version {} failed to load: {}", name, v,
                      std::string(version.status().message()));
        status.push_back({name, std::to_string(v), "UNAVAILABLE",
                          std::string(version.status().message())});
        if (result.ok()) result = version.status();
      }
    }
  }
  std::map<int64_t, std::shared_ptr<ModelVersion>> retired;
  std::vector<int64_t> kept;
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
        const std::string vs = std::to_string(v);
        kept.push_back(v);
        merged.push_back({name, vs, "READY", ""});
      }
      if (entry.router) merged.push_back({name, "", "READY", ""});
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
  for (int64_t v : kept) {
    // A failed reload of a version that keeps serving: its state stays READY.
    options_.metrics->SetModelState(name, std::to_string(v), metrics::ModelState::kReady);
  }
  for (const auto& [v, old] : retired) {
    if (now_serving.count(v) == 0) {
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
    WriterMutexLock lock(mu_);
    auto it = models_.find(name);
    if (it == models_.end()) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' is not loaded"));
    }
    retired.swap(it->second.versions);
    it->second.router.reset();
    it->second.wanted = false;
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
