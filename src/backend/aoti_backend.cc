// The AOTInductor backend of builds against libtorch >= 2.6 (see aoti_backend.h).
#include "backend/aoti_backend.h"

#include <ATen/Parallel.h>
#include <torch/csrc/inductor/aoti_runner/model_container_runner_cpu.h>
#include <torch/version.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/blas_threads.h"
#include "backend/aoti_package.h"
#include "backend/aoti_signature.h"
#include "backend/shared_object_info.h"
#include "backend/torch_call.h"
#include "backend/torch_tensor.h"
#include "core/status_macros.h"
#include "profiling/profiler.h"

namespace ptserve {
namespace {

namespace fs = std::filesystem;
using Runner = torch::inductor::AOTIModelContainerRunnerCpu;

constexpr char kInputsKey[] = "ptserve.inputs";
constexpr char kOutputsKey[] = "ptserve.outputs";

class AotiModel;

class AotiInstance final : public ModelInstance {
 public:
  AotiInstance(std::shared_ptr<AotiModel> model, InstanceOptions options,
               std::unique_ptr<Runner> runner)
      : model_(std::move(model)), options_(std::move(options)), runner_(std::move(runner)) {}
  void BindToThread() override {
    at::init_num_threads();
    if (options_.intra_op_threads > 0) at::set_num_threads(options_.intra_op_threads);
    EnsureBlasThreads(options_.intra_op_threads);
  }
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override;
  std::string Describe() const override {
    return absl::StrCat(options_.device, " intra_op_threads=", options_.intra_op_threads,
                        " AOTInductor");
  }

 private:
  std::shared_ptr<AotiModel> model_;
  InstanceOptions options_;
  std::unique_ptr<Runner> runner_;  // its own model container: instances run in parallel
};

class AotiModel final : public LoadedModel, public std::enable_shared_from_this<AotiModel> {
 public:
  // `profiler` is not owned and outlives the model.
  static absl::StatusOr<std::shared_ptr<AotiModel>> Load(const BackendLoadRequest& request,
                                                         const AotiBackendOptions& options,
                                                         profiling::Profiler* profiler);

  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  const std::vector<std::string>& notes() const override { return notes_; }
  int64_t batch_limit() const override { return batch_limit_; }

  absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(
      const InstanceOptions& options) override {
    if (options.device != "cpu") {
      return absl::UnimplementedError(absl::StrCat(
          "device '", options.device, "' is not available: this build of ptserve runs on the CPU"));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Runner> runner, MakeRunner());
    return std::unique_ptr<ModelInstance>(
        std::make_unique<AotiInstance>(shared_from_this(), options, std::move(runner)));
  }

  // Operator profile of the next executions: only what the compiled code calls through
  // libtorch's dispatcher is named (on the MLP package: copy_/expand for the bias, not its
  // GEMMs); Inductor's fused kernels never enter it. The executions and their times are whole.
  absl::Status Profile(const profiling::ProfileRequest& request,
                       profiling::ProfileCallback done) override {
    return profile_->Arm(request, std::move(done));
  }

  absl::StatusOr<std::vector<Tensor>> Run(Runner& runner, const std::vector<Tensor>& inputs) const;

 private:
  absl::StatusOr<std::unique_ptr<Runner>> MakeRunner() const;
  absl::Status CheckLibrary() const;
  absl::Status ResolveInputs(const BackendLoadRequest& request, const AotiSignature& sig,
                             const std::vector<TensorSpec>& meta);
  absl::Status ResolveOutputs(const BackendLoadRequest& request, const AotiSignature& sig,
                              const std::vector<TensorSpec>& meta);
  // Runs a batch of 2 generated rows: does the package follow the batch size?
  absl::StatusOr<bool> FollowsBatchSize(Runner& runner) const;
  absl::Status CheckInput(size_t i, const Tensor& t) const;

  std::string name_;
  std::unique_ptr<AotiPackage> package_;
  std::vector<TensorSpec> inputs_;   // as the server shows them (batch dimension excluded when batched)
  std::vector<TensorSpec> outputs_;
  std::vector<std::string> notes_;
  bool batched_ = false;
  int64_t batch_limit_ = 0;
  // Per package input: its full shape (-1 = dynamic) and which of inputs_ feeds it.
  std::vector<Shape> package_shapes_;
  std::vector<DataType> package_types_;
  std::vector<size_t> input_of_package_input_;
  std::vector<size_t> package_output_of_output_;
  size_t package_outputs_ = 0;
  std::unique_ptr<profiling::ProfileTarget> profile_;  // never null once loaded
};

absl::StatusOr<std::unique_ptr<Runner>> AotiModel::MakeRunner() const {
  auto runner = CatchTorch(absl::StatusCode::kInvalidArgument, "cannot load the package's model library",
                           [&] { return std::make_unique<Runner>(package_->so_path(), 1); });
  if (runner.ok()) return std::move(*runner);
  std::string why(runner.status().message());
  if (auto so = ReadSharedObjectInfo(package_->so_path()); so.ok()) {
    absl::StrAppend(&why, " (the library: ", so->Describe(), "; this server: libtorch ",
                    TORCH_VERSION, ", ", CurrentHostLibraries().machine,
                    "; a package must be made by the same torch version as the server's libtorch)");
  }
  return absl::InvalidArgumentError(why);
}

absl::Status AotiModel::CheckLibrary() const {
  const std::string device = package_->device();
  if (device != "cpu") {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", name_, "': the package was compiled for device '", device,
        "' and this build of ptserve runs on the CPU: compile it for the CPU (export and "
        "aoti_compile_and_package with the model and inputs on the CPU)"));
  }
  ASSIGN_OR_RETURN(SharedObjectInfo so, ReadSharedObjectInfo(package_->so_path()));
  for (const char* cuda : {"libtorch_cuda", "libc10_cuda", "libcudart", "libcuda."}) {
    if (so.Needs(cuda)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", name_, "': the package's library links ", cuda,
          " (a CUDA package) and this build of ptserve runs on the CPU (", so.Describe(), ")"));
    }
  }
  if (auto why = Incompatibility(so, CurrentHostLibraries())) {
    return absl::InvalidArgumentError(absl::StrCat("model '", name_, "': the package cannot load here: ",
                                                   *why, " (", so.Describe(), ")"));
  }
  const int abi = _GLIBCXX_USE_CXX11_ABI;
  if (package_->cxx11_abi() && *package_->cxx11_abi() != abi) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", name_, "': the package was compiled with _GLIBCXX_USE_CXX11_ABI=",
        *package_->cxx11_abi(), " (torch from ", package_->torch_include_dir(),
        ") and this server's libtorch ", TORCH_VERSION, " uses ", abi,
        ": make the package with the same torch as the server"));
  }
  return absl::OkStatus();
}

// Which package input a config input feeds: INPUT__<n>, a name the package
// knows (metadata name or keyword), else its position.
absl::Status AotiModel::ResolveInputs(const BackendLoadRequest& request, const AotiSignature& sig,
                                      const std::vector<TensorSpec>& meta) {
  const size_t n = sig.input_keys.size();
  if (!meta.empty() && meta.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("model '", name_, "': the package's I/O metadata lists ",
                                                   meta.size(), " inputs but the model takes ", n));
  }
  auto package_name = [&](size_t i) {
    if (!meta.empty()) return meta[i].name;
    return sig.input_keys[i].empty() ? absl::StrCat("INPUT__", i) : sig.input_keys[i];
  };
  input_of_package_input_.assign(n, SIZE_MAX);
  package_shapes_.assign(n, Shape());
  package_types_.assign(n, DataType::kFp32);
  if (request.inputs.empty()) {
    if (meta.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", name_, "': the package carries no input shapes (ptserve I/O metadata) and "
          "there is no config.pbtxt input: AOTInductor code checks no shapes at run time, so "
          "declare the inputs (name, data_type, dims) in config.pbtxt, or package the model with "
          "the metadata (see docs/pytorch2.md)"));
    }
    for (size_t i = 0; i < n; ++i) {
      TensorSpec spec = meta[i];
      if (batched_) {
        if (spec.dims.empty()) {
          return absl::InvalidArgumentError(absl::StrCat("model '", name_, "': input '", spec.name,
                                                         "' has no batch dimension"));
        }
        spec.dims.erase(spec.dims.begin());
      }
      inputs_.push_back(spec);
      input_of_package_input_[i] = i;
      package_shapes_[i] = meta[i].dims;
      package_types_[i] = meta[i].dtype;
    }
    notes_.push_back(absl::StrCat("no input in config: inputs from the package (",
                                  absl::StrJoin(inputs_, ", ", [](std::string* out, const TensorSpec& s) {
                                    absl::StrAppend(out, s.name, " ", std::string(DataTypeName(s.dtype)), " ",
                                                    ShapeToString(s.dims));
                                  }),
                                  ")"));
    return absl::OkStatus();
  }
  inputs_ = request.inputs;
  if (inputs_.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", name_, "': the config declares ", inputs_.size(), " inputs and the package's "
        "model takes ", n));
  }
  for (size_t c = 0; c < inputs_.size(); ++c) {
    const TensorSpec& spec = inputs_[c];
    if (spec.any_shape) {
      return absl::InvalidArgumentError(absl::StrCat("model '", name_, "': input '", spec.name,
                                                     "' needs dims in the config"));
    }
    size_t p = c;
    if (auto idx = IndexedName(spec.name, "INPUT__")) {
      p = static_cast<size_t>(*idx);
    } else {
      for (size_t i = 0; i < n; ++i) {
        if (package_name(i) == spec.name) p = i;
      }
    }
    if (p >= n || input_of_package_input_[p] != SIZE_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("model '", name_, "': config input '", spec.name,
                                                     "' does not map to a distinct input of the package"));
    }
    input_of_package_input_[p] = c;
    Shape full = spec.dims;
    if (batched_) full.insert(full.begin(), -1);
    package_types_[p] = spec.dtype;
    package_shapes_[p] = full;
    if (meta.empty()) continue;
    // The config must agree with what the package was exported for.
    const TensorSpec& m = meta[p];
    auto disagree = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", name_, "': config input '", spec.name, "' (", std::string(DataTypeName(spec.dtype)), " ",
          ShapeToString(full), ") does not match the package's '", m.name, "' (", std::string(DataTypeName(m.dtype)),
          " ", ShapeToString(m.dims), "): ", why));
    };
    if (m.dtype != spec.dtype) return disagree("different datatypes");
    if (m.dims.size() != full.size()) return disagree("different ranks");
    for (size_t d = 0; d < full.size(); ++d) {
      if (batched_ && d == 0) {
        if (m.dims[0] != -1) {
          if (m.dims[0] != 1) {
            return disagree(absl::StrCat("the package was exported with a static batch of ", m.dims[0],
                                         "; export with torch.export.Dim on dimension 0 to batch, "
                                         "or set max_batch_size: 0 and dims [", m.dims[0], ", ...]"));
          }
          batch_limit_ = 1;
        }
        continue;
      }
      if (m.dims[d] != -1 && full[d] != m.dims[d]) {
        return disagree(absl::StrCat("dimension ", d, " is ", m.dims[d], " in the package"));
      }
    }
    package_shapes_[p] = m.dims;
    if (batched_) package_shapes_[p][0] = -1;
  }
  return absl::OkStatus();
}

absl::Status AotiModel::ResolveOutputs(const BackendLoadRequest& request, const AotiSignature& sig,
                                       const std::vector<TensorSpec>& meta) {
  package_outputs_ = sig.output_keys.size();
  auto package_name = [&](size_t i) {
    if (meta.size() == package_outputs_) return meta[i].name;
    return sig.output_keys[i].empty() ? absl::StrCat("OUTPUT__", i) : sig.output_keys[i];
  };
  if (request.outputs.empty()) {
    for (size_t i = 0; i < package_outputs_; ++i) {
      TensorSpec spec;
      spec.name = package_name(i);
      if (meta.size() == package_outputs_) {
        spec = meta[i];
        if (batched_ && !spec.dims.empty()) spec.dims.erase(spec.dims.begin());
      } else {
        spec.any_shape = true;
      }
      outputs_.push_back(spec);
      package_output_of_output_.push_back(i);
    }
    return absl::OkStatus();
  }
  outputs_ = request.outputs;
  std::vector<bool> used(package_outputs_, false);
  for (size_t c = 0; c < outputs_.size(); ++c) {
    size_t p = c;
    if (auto idx = IndexedName(outputs_[c].name, "OUTPUT__")) {
      p = static_cast<size_t>(*idx);
    } else {
      for (size_t i = 0; i < package_outputs_; ++i) {
        if (package_name(i) == outputs_[c].name) p = i;
      }
    }
    if (p >= package_outputs_ || used[p]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", name_, "': config output '", outputs_[c].name, "' does not map to a distinct "
          "output of the package (it returns ", package_outputs_, ")"));
    }
    used[p] = true;
    package_output_of_output_.push_back(p);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> AotiModel::FollowsBatchSize(Runner& runner) const {
  std::vector<at::Tensor> args(package_shapes_.size());
  for (size_t i = 0; i < package_shapes_.size(); ++i) {
    std::vector<int64_t> shape(package_shapes_[i].begin(), package_shapes_[i].end());
    shape[0] = 2;
    for (int64_t& d : shape) d = d < 0 ? 8 : d;
    ASSIGN_OR_RETURN(at::ScalarType type, ToTorchType(package_types_[i]));
    args[i] = at::zeros(shape, at::TensorOptions().dtype(type));
  }
  ASSIGN_OR_RETURN(std::vector<at::Tensor> out,
                   CatchTorch(absl::StatusCode::kInvalidArgument,
                              "the model fails on generated inputs of batch 2",
                              [&] { return runner.run(args); }));
  for (const at::Tensor& t : out) {
    if (t.dim() == 0 || t.size(0) != 2) return false;
  }
  return true;
}

absl::StatusOr<std::shared_ptr<AotiModel>> AotiModel::Load(const BackendLoadRequest& request,
                                                           const AotiBackendOptions& options,
                                                           profiling::Profiler* profiler) {
  auto model = std::make_shared<AotiModel>();
  model->name_ = request.model_name;
  model->batched_ = request.batched;
  model->profile_ = std::make_unique<profiling::ProfileTarget>(
      profiler, absl::StrCat(request.model_name, ":",
                             fs::path(request.version_dir).filename().string()));
  const std::string path = (fs::path(request.version_dir) / request.model_file).string();
  if (!fs::is_regular_file(path)) {
    return absl::NotFoundError(absl::StrCat("model file ", path, " does not exist"));
  }
  AotiPackage::Options unpack;
  unpack.directory = options.extract_dir;
  for (const auto& [key, value] : request.parameters) {
    if (key == "AOTI_MODEL_NAME") unpack.model_name = value;
  }
  ASSIGN_OR_RETURN(model->package_, AotiPackage::Extract(path, unpack));
  RETURN_IF_ERROR(model->CheckLibrary());
  ASSIGN_OR_RETURN(std::unique_ptr<Runner> probe, model->MakeRunner());
  ASSIGN_OR_RETURN(std::vector<std::string> spec,
                   CatchTorch(absl::StatusCode::kInvalidArgument, "cannot read the call spec",
                              [&] { return probe->get_call_spec(); }));
  if (spec.size() != 2) return absl::InvalidArgumentError("the package has no call spec");
  ASSIGN_OR_RETURN(AotiSignature sig, ParseCallSpec(spec[0], spec[1]));
  std::vector<TensorSpec> meta_in, meta_out;
  const auto& metadata = model->package_->metadata();
  if (auto it = metadata.find(kInputsKey); it != metadata.end()) {
    ASSIGN_OR_RETURN(meta_in, ParseIoMetadata(it->second));
  }
  if (auto it = metadata.find(kOutputsKey); it != metadata.end()) {
    ASSIGN_OR_RETURN(meta_out, ParseIoMetadata(it->second));
  }
  RETURN_IF_ERROR(model->ResolveInputs(request, sig, meta_in));
  RETURN_IF_ERROR(model->ResolveOutputs(request, sig, meta_out));
  if (model->batched_ && meta_in.empty()) {
    // Only the config describes the inputs: find out whether the batch
    // dimension was exported as dynamic. A static batch of 1 reads the first
    // row of a batch of 2 and returns one row, so this probe stays in bounds.
    ASSIGN_OR_RETURN(bool follows, model->FollowsBatchSize(*probe));
    if (!follows) model->batch_limit_ = 1;
    model->notes_.push_back("the package has no ptserve I/O metadata: the config's input dims are "
                            "trusted to match what it was exported for");
  }
  if (auto fixed = model->package_->fixed_parallel_threads(); fixed && *fixed > 1) {
    model->notes_.push_back(absl::StrCat(
        "the package's parallel kernels start ", *fixed, " OpenMP threads each, a number fixed "
        "when it was compiled (the compiling machine's thread count): every instance uses them "
        "whatever INTRA_OP_THREAD_COUNT says, and several instances oversubscribe the CPUs; "
        "compile with inductor_configs={\"cpp.dynamic_threads\": True} to let ptserve choose"));
  }
  if (model->batch_limit_ == 1) {
    model->notes_.push_back(
        "the package was exported with a static batch dimension of 1: requests run one at a "
        "time (no dynamic batching); export with torch.export.Dim on dimension 0 to batch");
  }
  return model;
}

absl::Status AotiModel::CheckInput(size_t i, const Tensor& t) const {
  const Shape& want = package_shapes_[i];
  const TensorSpec& spec = inputs_[input_of_package_input_[i]];
  if (t.dtype() != package_types_[i]) {
    return absl::InvalidArgumentError(absl::StrCat("input '", spec.name, "' must be ",
                                                   std::string(DataTypeName(package_types_[i])), ", not ",
                                                   std::string(DataTypeName(t.dtype()))));
  }
  bool ok = t.shape().size() == want.size();
  for (size_t d = 0; ok && d < want.size(); ++d) {
    ok = want[d] < 0 ? t.shape()[d] >= 0 : t.shape()[d] == want[d];
  }
  if (ok && batched_ && batch_limit_ > 0) ok = !t.shape().empty() && t.shape()[0] <= batch_limit_;
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("input '", spec.name, "': shape ",
                                                   ShapeToString(t.shape()), " does not match the package's ",
                                                   ShapeToString(want)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Tensor>> AotiModel::Run(Runner& runner,
                                                   const std::vector<Tensor>& inputs) const {
  if (inputs.size() != inputs_.size()) return absl::InternalError("input count does not match the model");
  std::vector<at::Tensor> args(package_shapes_.size());
  for (size_t p = 0; p < package_shapes_.size(); ++p) {
    const Tensor& t = inputs[input_of_package_input_[p]];
    RETURN_IF_ERROR(CheckInput(p, t));
    ASSIGN_OR_RETURN(args[p], ToAten(t));
  }
  // Operator profiling on demand: one relaxed atomic load while off.
  std::unique_ptr<profiling::Recording> recording = profile_->RecordIfArmed(inputs, batched_);
  auto out = CatchTorch(absl::StatusCode::kInternal, absl::StrCat("model '", name_, "' failed"),
                        [&] { return runner.run(args); });
  recording.reset();  // the profile covers the package's run only
  if (!out.ok()) return out.status();
  if (out->size() != package_outputs_) {
    return absl::InternalError(absl::StrCat("model '", name_, "' returned ", out->size(),
                                            " tensors; its call spec says ", package_outputs_));
  }
  std::vector<Tensor> outputs;
  outputs.reserve(package_output_of_output_.size());
  for (size_t p : package_output_of_output_) {
    ASSIGN_OR_RETURN(Tensor t, FromAten((*out)[p]));
    outputs.push_back(std::move(t));
  }
  return outputs;
}

absl::StatusOr<std::vector<Tensor>> AotiInstance::Execute(const std::vector<Tensor>& inputs) {
  return model_->Run(*runner_, inputs);
}

class AotiBackend final : public Backend {
 public:
  explicit AotiBackend(AotiBackendOptions options) : options_(std::move(options)) {}
  absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const BackendLoadRequest& request) override {
    ASSIGN_OR_RETURN(auto model, AotiModel::Load(request, options_, &profiler_));
    return std::shared_ptr<LoadedModel>(std::move(model));
  }

 private:
  AotiBackendOptions options_;
  // Finishes the models' operator profiles; outlives them, as the backend outlives its models.
  profiling::Profiler profiler_;
};

}  // namespace

std::unique_ptr<Backend> MakeAotiBackend(const AotiBackendOptions& options) {
  return std::make_unique<AotiBackend>(options);
}

bool AotiAvailable() { return true; }

}  // namespace ptserve
