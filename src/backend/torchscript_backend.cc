#include "backend/torchscript_backend.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>
#include <torch/script.h>
#include <torch/version.h>

#include <filesystem>
#include <mutex>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "backend/blas_threads.h"
#include "backend/missing_operator.h"
#include "backend/torch_call.h"
#include "backend/torch_tensor.h"
#include "backend/torchscript_acceleration.h"
#include "core/sample_inputs.h"
#include "core/status_macros.h"

namespace ptserve {
namespace {

// A load error, with what to do when the model needs an operator this
// process lacks: one of an operator library that is not loaded
// (torchvision::nms), or one of a newer libtorch than this build's.
absl::Status LoadError(const absl::Status& error) {
  const std::string message(error.message());
  const std::string op = MissingOperator(message);
  if (op.empty()) return error;
  if (!IsLibtorchOperator(op)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model needs an operator that is not registered: ",
                     MissingOperatorAdvice(op), " (", message, ")"));
  }
  if (absl::StartsWith(TORCH_VERSION, "2.")) return error;
  return absl::InvalidArgumentError(absl::StrCat(
      message, " (the model uses operator ", op, ", which libtorch ", TORCH_VERSION,
      " does not have: it was saved by a newer PyTorch; a ptserve build against libtorch 2.6 "
      "serves it)"));
}

class TorchScriptModel;

class TorchScriptInstance final : public ModelInstance {
 public:
  TorchScriptInstance(std::shared_ptr<TorchScriptModel> model, InstanceOptions options)
      : model_(std::move(model)), options_(std::move(options)) {}
  void BindToThread() override {
    at::init_num_threads();
    if (options_.intra_op_threads > 0) at::set_num_threads(options_.intra_op_threads);
    EnsureBlasThreads(options_.intra_op_threads);
  }
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override;
  void set_description(std::string d) { model_description_ = std::move(d); }
  std::string Describe() const override {
    return absl::StrCat(options_.device, " intra_op_threads=", options_.intra_op_threads, " ",
                        model_description_);
  }

 private:
  std::shared_ptr<TorchScriptModel> model_;
  InstanceOptions options_;
  std::string model_description_;
};

class TorchScriptModel final : public LoadedModel,
                               public std::enable_shared_from_this<TorchScriptModel> {
 public:
  // `profiler` is not owned and outlives the model.
  static absl::StatusOr<std::shared_ptr<TorchScriptModel>> Load(const BackendLoadRequest& request,
                                                                profiling::Profiler* profiler);

  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  const std::vector<std::string>& notes() const override { return notes_; }
  std::optional<double> acceleration_difference() const override { return accelerated_.difference; }
  std::optional<std::vector<std::string>> RuntimeOutputNames() const override {
    absl::MutexLock lock(&names_mu_);
    return dict_keys_;
  }
  absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(
      const InstanceOptions& options) override {
    if (options.device != "cpu") {
      return absl::UnimplementedError(absl::StrCat(
          "device '", options.device, "' is not available: this build of ptserve runs on the CPU"));
    }
    auto instance = std::make_unique<TorchScriptInstance>(shared_from_this(), options);
    instance->set_description(accelerated_.description);
    return std::unique_ptr<ModelInstance>(std::move(instance));
  }

  absl::Status Profile(const profiling::ProfileRequest& request,
                       profiling::ProfileCallback done) override {
    return profile_->Arm(request, std::move(done));
  }

  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs);

 private:
  absl::Status MapInputs(const BackendLoadRequest& request);
  // Argument lists for forward() to check optimisations on: the request's
  // sample inputs, else generated from the input shapes by SampleInputs
  // (batch 2 when batched, -1 dimensions as 8). Empty when a shape is unknown.
  absl::StatusOr<std::vector<std::vector<c10::IValue>>> SampleArguments(
      const BackendLoadRequest& request) const;
  absl::StatusOr<std::vector<Tensor>> CollectOutputs(const c10::IValue& result);
  // Derived outputs only: outputs_ from the result of running `args`.
  absl::Status DeriveOutputsFrom(const std::vector<c10::IValue>& args);
  // Derived outputs only: the tensors of a returned dict, in dict_keys_ order.
  absl::StatusOr<std::vector<Tensor>> CollectDerivedDict(const c10::impl::GenericDict& dict);

  std::string name_;
  torch::jit::Module module_;       // as loaded; released once accelerated_ is built
  AcceleratedModule accelerated_;   // what runs
  std::vector<TensorSpec> inputs_;
  std::vector<TensorSpec> outputs_;
  std::vector<std::string> notes_;
  std::vector<int> argument_of_input_;  // forward() argument index per input
  size_t num_arguments_ = 0;            // excluding self
  bool outputs_derived_ = false;        // no config: outputs named at first run
  std::vector<std::optional<int>> output_index_;  // OUTPUT__<n> -> n
  // Derived outputs of a model that returns a dict: its keys, in the order of
  // the first answer (later answers are returned in this order).
  mutable absl::Mutex names_mu_;
  std::optional<std::vector<std::string>> dict_keys_ ABSL_GUARDED_BY(names_mu_);
  bool batched_ = false;
  std::unique_ptr<profiling::ProfileTarget> profile_;  // never null once loaded
};

absl::StatusOr<std::shared_ptr<TorchScriptModel>> TorchScriptModel::Load(
    const BackendLoadRequest& request, profiling::Profiler* profiler) {
  auto model = std::make_shared<TorchScriptModel>();
  model->name_ = request.model_name;
  model->batched_ = request.batched;
  model->profile_ = std::make_unique<profiling::ProfileTarget>(
      profiler, absl::StrCat(request.model_name, ":",
                             std::filesystem::path(request.version_dir).filename().string()));
  const std::string path =
      (std::filesystem::path(request.version_dir) / request.model_file).string();
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("model file ", path, " does not exist"));
  }
  ASSIGN_OR_RETURN(AccelerationOptions accel, ParseAccelerationOptions(request.parameters));
  accel.batched = request.batched;
  // The quantized engine is process-wide in libtorch and packed int8 weights
  // are made for the engine current when they are loaded or quantized: hold
  // it steady while this model loads.
  static absl::Mutex* engine_mu = new absl::Mutex;
  std::optional<absl::MutexLock> engine_lock;
  if (!accel.quantized_engine.empty() || accel.quantization != Quantization::kNone) {
    engine_lock.emplace(engine_mu);
    RETURN_IF_ERROR(SelectQuantizedEngine(accel));
  }
  auto module = CatchTorch(absl::StatusCode::kInvalidArgument, absl::StrCat("cannot load ", path),
                          [&] { return torch::jit::load(path, c10::Device(c10::kCPU)); });
  if (!module.ok()) return LoadError(module.status());
  model->module_ = std::move(*module);
  model->module_.eval();
  RETURN_IF_ERROR(model->MapInputs(request));
  auto samples = CatchTorch(absl::StatusCode::kInvalidArgument,
                            "cannot make sample inputs from the config's input shapes",
                            [&] { return model->SampleArguments(request); });
  if (!samples.ok()) return samples.status();
  if (!samples->ok()) return samples->status();
  auto accelerated = CatchTorch(absl::StatusCode::kInternal, "load-time optimisation failed",
                                [&] { return Accelerate(model->module_, accel, **samples); });
  if (!accelerated.ok()) return accelerated.status();
  if (!accelerated->ok()) return accelerated->status();
  model->accelerated_ = std::move(**accelerated);
  model->module_ = torch::jit::Module();  // the weights now live in accelerated_ only
  if (model->outputs_derived_ && !(*samples)->empty()) {
    // Name the outputs now, from one run on a sample: a dict's keys, or
    // OUTPUT__0..n-1 for a tuple, so metadata shows them before any request.
    // Where that run fails, they are named by the first answer instead.
    if (absl::Status named = model->DeriveOutputsFrom((*samples)->front()); !named.ok()) {
      model->notes_.push_back(
          absl::StrCat("outputs left to be named by the first answer: ", named.message()));
    }
  }
  for (std::string& note : model->accelerated_.notes) model->notes_.push_back(std::move(note));
  model->accelerated_.notes.clear();
  if (accel.precision != Precision::kFp32 || accel.quantization != Quantization::kNone ||
      accel.linear_kernel == LinearKernel::kGemv) {
    model->notes_.push_back(absl::StrCat("serving ", model->accelerated_.description));
  }
  return model;
}

absl::StatusOr<std::vector<std::vector<c10::IValue>>> TorchScriptModel::SampleArguments(
    const BackendLoadRequest& request) const {
  std::vector<std::vector<c10::IValue>> samples;
  // forward()'s arguments, as Run() builds them; copies (a sample's buffers
  // do not outlive this call).
  auto arguments =
      [&](const std::vector<Tensor>& sample) -> absl::StatusOr<std::vector<c10::IValue>> {
    std::vector<c10::IValue> args(inputs_.size());
    for (size_t i = 0; i < sample.size(); ++i) {
      ASSIGN_OR_RETURN(at::Tensor a, ToAten(sample[i]));
      args[argument_of_input_[i]] = a.clone();
    }
    return args;
  };
  for (const std::vector<Tensor>& sample : request.sample_inputs) {
    if (sample.size() != inputs_.size()) continue;
    ASSIGN_OR_RETURN(std::vector<c10::IValue> args, arguments(sample));
    samples.push_back(std::move(args));
  }
  if (!samples.empty()) return samples;
  std::mt19937 rng(42);
  ASSIGN_OR_RETURN(std::vector<Tensor> generated,
                   SampleInputs(
                       inputs_, request.batched ? 2 : 0,
                       [](const TensorSpec&, size_t) { return kSampleVariableDim; }, rng));
  if (generated.empty()) return samples;  // nothing to generate from
  ASSIGN_OR_RETURN(std::vector<c10::IValue> args, arguments(generated));
  samples.push_back(std::move(args));
  return samples;
}

absl::Status TorchScriptModel::MapInputs(const BackendLoadRequest& request) {
  auto method = module_.find_method("forward");
  if (!method) {
    return absl::InvalidArgumentError(absl::StrCat("model '", name_, "' has no forward() method"));
  }
  const c10::FunctionSchema& schema = method->function().getSchema();
  std::vector<std::string> arg_names;
  for (size_t i = 1; i < schema.arguments().size(); ++i) arg_names.push_back(schema.arguments()[i].name());
  num_arguments_ = arg_names.size();

  inputs_ = request.inputs;
  if (inputs_.empty()) {
    for (const std::string& arg : arg_names) {
      TensorSpec spec;
      spec.name = arg;
      spec.any_shape = true;
      inputs_.push_back(spec);
    }
    notes_.push_back(absl::StrCat("no input in config: assumed inputs named after forward()'s "
                                  "arguments (", absl::StrJoin(arg_names, ", "),
                                  "), type FP32, any shape"));
  }
  if (inputs_.size() > arg_names.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the config declares ", inputs_.size(), " inputs but forward() of model '", name_,
        "' takes ", arg_names.size(), " (", absl::StrJoin(arg_names, ", "), ")"));
  }
  std::vector<bool> used(arg_names.size(), false);
  for (size_t i = 0; i < inputs_.size(); ++i) {
    int arg = static_cast<int>(i);
    if (auto n = IndexedName(inputs_[i].name, "INPUT__")) {
      arg = *n;
    } else {
      for (size_t a = 0; a < arg_names.size(); ++a) {
        if (arg_names[a] == inputs_[i].name) arg = static_cast<int>(a);
      }
    }
    if (arg >= static_cast<int>(arg_names.size()) || used[arg]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", inputs_[i].name, "' does not map to a distinct argument of forward(",
          absl::StrJoin(arg_names, ", "), ")"));
    }
    used[arg] = true;
    argument_of_input_.push_back(arg);
  }
  for (size_t a = inputs_.size(); a < arg_names.size(); ++a) {
    if (!schema.arguments()[a + 1].default_value()) {
      return absl::InvalidArgumentError(absl::StrCat("forward() argument '", arg_names[a],
                                                     "' has no input in the config"));
    }
  }
  outputs_ = request.outputs;
  if (outputs_.empty()) {
    outputs_derived_ = true;
    TensorSpec spec;
    spec.name = "OUTPUT__0";
    spec.any_shape = true;
    outputs_.push_back(spec);
    notes_.push_back("no output in config: assumed one output OUTPUT__0 (more appear as "
                     "OUTPUT__1... when forward() returns a tuple), any shape");
  }
  for (const TensorSpec& out : outputs_) output_index_.push_back(IndexedName(out.name, "OUTPUT__"));
  return absl::OkStatus();
}

absl::Status TorchScriptModel::DeriveOutputsFrom(const std::vector<c10::IValue>& args) {
  auto result = CatchTorch(absl::StatusCode::kInvalidArgument,
                           absl::StrCat("model '", name_, "' fails on its sample inputs"),
                           [&] { return RunAccelerated(accelerated_, args); });
  if (!result.ok()) return result.status();
  std::vector<TensorSpec> specs;
  auto spec_of = [](std::string name, const at::Tensor& t) {
    TensorSpec spec;
    spec.name = std::move(name);
    spec.dtype = FromTorchType(t.scalar_type()).value_or(DataType::kFp32);
    spec.any_shape = true;
    return spec;
  };
  if (result->isGenericDict()) {
    for (const auto& entry : result->toGenericDict()) {
      if (!entry.key().isString() || !entry.value().isTensor()) {
        return absl::InvalidArgumentError(
            absl::StrCat("model '", name_, "' returns a dict that is not Dict[str, Tensor]"));
      }
      specs.push_back(spec_of(entry.key().toStringRef(), entry.value().toTensor()));
    }
  } else if (result->isTuple() || result->isList()) {
    const auto elements =
        result->isTuple() ? result->toTupleRef().elements().vec() : result->toListRef().vec();
    for (size_t i = 0; i < elements.size(); ++i) {
      if (!elements[i].isTensor()) return absl::OkStatus();  // reported per request
      specs.push_back(spec_of(absl::StrCat("OUTPUT__", i), elements[i].toTensor()));
    }
  } else if (result->isTensor()) {
    specs.push_back(spec_of("OUTPUT__0", result->toTensor()));
  } else {
    return absl::OkStatus();  // reported per request
  }
  if (specs.empty()) return absl::OkStatus();
  outputs_ = std::move(specs);
  outputs_derived_ = false;
  output_index_.clear();
  for (const TensorSpec& out : outputs_) output_index_.push_back(IndexedName(out.name, "OUTPUT__"));
  std::vector<std::string> names;
  for (const TensorSpec& out : outputs_) names.push_back(out.name);
  notes_.push_back(
      absl::StrCat("outputs named from a run on the sample inputs: ", absl::StrJoin(names, ", ")));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Tensor>> TorchScriptModel::CollectDerivedDict(
    const c10::impl::GenericDict& dict) {
  std::vector<std::string> keys;
  for (const auto& entry : dict) {
    if (!entry.key().isString() || !entry.value().isTensor()) {
      return absl::InternalError(absl::StrCat("model '", name_,
                                              "' returned a dict that is not "
                                              "Dict[str, Tensor]"));
    }
    keys.push_back(entry.key().toStringRef());
  }
  {
    absl::MutexLock lock(&names_mu_);
    if (!dict_keys_) dict_keys_ = keys;
    keys = *dict_keys_;
  }
  std::vector<Tensor> outputs;
  for (const std::string& key : keys) {
    auto it = dict.find(c10::IValue(key));
    if (it == dict.end()) {
      return absl::InternalError(absl::StrCat("model '", name_, "' returned a dict without '", key,
                                              "', which its first answer had"));
    }
    ASSIGN_OR_RETURN(Tensor out, FromAten(it->value().toTensor()));
    outputs.push_back(std::move(out));
  }
  return outputs;
}

absl::StatusOr<std::vector<Tensor>> TorchScriptModel::CollectOutputs(const c10::IValue& result) {
  std::vector<at::Tensor> by_position;
  std::optional<c10::impl::GenericDict> dict;
  if (result.isTensor()) {
    by_position.push_back(result.toTensor());
  } else if (result.isTuple() || result.isList()) {
    const auto elements = result.isTuple() ? result.toTupleRef().elements().vec()
                                           : result.toListRef().vec();
    for (const c10::IValue& e : elements) {
      if (!e.isTensor()) {
        return absl::InternalError(absl::StrCat("model '", name_, "' returned a ",
                                                e.tagKind(), " inside its result; ptserve "
                                                "serves tensors"));
      }
      by_position.push_back(e.toTensor());
    }
  } else if (result.isGenericDict()) {
    if (outputs_derived_) return CollectDerivedDict(result.toGenericDict());
    dict = result.toGenericDict();
  } else {
    return absl::InternalError(absl::StrCat("model '", name_, "' returned a ", result.tagKind(),
                                            "; ptserve serves Tensor, tuple, list or dict results"));
  }
  std::vector<Tensor> outputs;
  const size_t count = outputs_derived_ && !dict ? by_position.size() : outputs_.size();
  for (size_t i = 0; i < count; ++i) {
    at::Tensor t;
    if (dict) {
      const std::string& key = outputs_[i].name;
      auto it = dict->find(c10::IValue(key));
      if (it == dict->end() || !it->value().isTensor()) {
        return absl::InternalError(absl::StrCat("model '", name_, "' returned a dict without "
                                                "a tensor under '", key, "'"));
      }
      t = it->value().toTensor();
    } else {
      const size_t pos = i < output_index_.size() && output_index_[i] ? *output_index_[i] : i;
      if (pos >= by_position.size()) {
        return absl::InternalError(absl::StrCat(
            "model '", name_, "' returned ", by_position.size(), " tensors but the config's output '",
            outputs_[i].name, "' needs element ", pos));
      }
      t = by_position[pos];
    }
    ASSIGN_OR_RETURN(Tensor out, FromAten(t));
    outputs.push_back(std::move(out));
  }
  return outputs;
}

absl::StatusOr<std::vector<Tensor>> TorchScriptModel::Run(const std::vector<Tensor>& inputs) {
  if (inputs.size() != inputs_.size()) {
    return absl::InternalError("input count does not match the model");
  }
  std::vector<c10::IValue> args(inputs_.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSIGN_OR_RETURN(at::Tensor t, ToAten(inputs[i]));
    args[argument_of_input_[i]] = std::move(t);
  }
  // Operator profiling on demand: one relaxed atomic load while off.
  std::unique_ptr<profiling::Recording> recording = profile_->RecordIfArmed(inputs, batched_);
  auto result = CatchTorch(absl::StatusCode::kInternal, absl::StrCat("model '", name_, "' failed"),
                           [&] { return RunAccelerated(accelerated_, std::move(args)); });
  recording.reset();  // the profile covers forward() only
  if (!result.ok()) return result.status();
  return CollectOutputs(*result);
}

absl::StatusOr<std::vector<Tensor>> TorchScriptInstance::Execute(const std::vector<Tensor>& inputs) {
  return model_->Run(inputs);
}

}  // namespace

TorchScriptBackend::TorchScriptBackend() { torch::jit::setTensorExprFuserEnabled(false); }

absl::StatusOr<std::shared_ptr<LoadedModel>> TorchScriptBackend::Load(
    const BackendLoadRequest& request) {
  ASSIGN_OR_RETURN(auto model, TorchScriptModel::Load(request, &profiler_));
  return std::shared_ptr<LoadedModel>(std::move(model));
}

void SetInterOpThreads(int threads) {
  if (threads > 0) at::set_num_interop_threads(threads);
}

std::string TorchBuildInfo() {
  // One line: the version and the "ATen parallel backend: ..." line of the
  // (multi-line) parallel info.
  const std::string info = at::get_parallel_info();
  std::string backend = "unknown";
  const std::string key = "ATen parallel backend: ";
  if (size_t at = info.find(key); at != std::string::npos) {
    backend = info.substr(at + key.size(), info.find('\n', at) - at - key.size());
  }
  return absl::StrCat("libtorch ", TORCH_VERSION, ", parallel backend ", backend);
}

}  // namespace ptserve
