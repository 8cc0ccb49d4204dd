// TorchScriptBackend: loads `model.pt` files saved by torch.jit.save and runs
// them with libtorch, under c10::InferenceMode, in eval mode.
//
// Inputs are matched to forward()'s arguments the way Triton's PyTorch
// backend does: `INPUT__<n>` is argument n, a name equal to an argument's
// name is that argument, anything else goes by position. Outputs: a Tensor,
// a tuple or list of Tensors (by position, or `OUTPUT__<n>` = element n), or
// a Dict[str, Tensor] (by key).
//
// The only file pair (with torch_tensor.*) that includes libtorch headers.
#ifndef PTSERVE_BACKEND_TORCHSCRIPT_BACKEND_H_
#define PTSERVE_BACKEND_TORCHSCRIPT_BACKEND_H_

#include "backend/backend.h"
#include "profiling/profiler.h"

namespace ptserve {

class TorchScriptBackend final : public Backend {
 public:
  // Turns off libtorch's TensorExpr (NNC) fuser, process-wide: Debian's
  // libtorch 2.6 compiles fusion groups of frozen graphs with LLVM during
  // warm-up, which took minutes per model here (a frozen MLP never became
  // ready); 1.13 does not fuse on the CPU at all. Serving then runs the same
  // ATen kernels on both versions.
  TorchScriptBackend();
  // Thread-safe: models may load concurrently.
  absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const BackendLoadRequest& request) override;

 private:
  // Finishes the models' operator profiles (LoadedModel::Profile); outlives
  // them, as the backend outlives its models.
  profiling::Profiler profiler_;
};

// Sets libtorch's process-wide inter-op pool size; call once at start-up,
// before any model runs. 0 leaves libtorch's default.
void SetInterOpThreads(int threads);

// "libtorch 1.13.1, OpenMP, ..." for the startup log.
std::string TorchBuildInfo();

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_TORCHSCRIPT_BACKEND_H_
