// Load-time acceleration of a TorchScript module, driven by config
// `parameters` (OPTIMIZE, PRECISION, QUANTIZATION, QUANTIZED_ENGINE,
// LINEAR_KERNEL): freezing + optimize_for_inference, bf16, dynamic int8 of
// Linear layers, the matrix-vector kernel for Linear layers at small batches.
// Every candidate is run on sample inputs and compared with the original
// module; one that fails or differs beyond its lever's tolerance is dropped
// with a note, and the next (finally the original module) is used.
//
//   ASSIGN_OR_RETURN(AccelerationOptions options, ParseAccelerationOptions(params));
//   RETURN_IF_ERROR(SelectQuantizedEngine(options));   // before torch::jit::load
//   ASSIGN_OR_RETURN(AcceleratedModule fast, Accelerate(module, options, samples));
//   c10::IValue out = RunAccelerated(fast, args);       // casts for bf16 as needed
//
// Libtorch headers: include only from the backend's .cc files.
#ifndef PTSERVE_BACKEND_TORCHSCRIPT_ACCELERATION_H_
#define PTSERVE_BACKEND_TORCHSCRIPT_ACCELERATION_H_

#include <torch/script.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ptserve {

enum class Precision { kFp32, kBf16, kFp16 };
enum class Quantization { kNone, kDynamicInt8, kStaticInt8 };
// Which kernel the frozen graph's constant-weight Linear layers run at small
// batch sizes (linear_kernels.h).
enum class LinearKernel {
  kAuto,     // the BLAS's gemv up to the batch size where it measures clearly faster at load
  kGemv,     // gemv up to kForcedGemvRows rows, unmeasured
  kDefault,  // aten::linear (libtorch's GEMM) as the model has it
};

struct AccelerationOptions {
  // OPTIMIZE. Unset: on, but only when sample inputs exist to check it on.
  std::optional<bool> optimize;
  Precision precision = Precision::kFp32;     // PRECISION
  Quantization quantization = Quantization::kNone;  // QUANTIZATION
  std::string quantized_engine;               // QUANTIZED_ENGINE; "" = libtorch's default
  bool inference_mode = true;                 // INFERENCE_MODE
  // ACCURACY_TOLERANCE: the largest relative L2 difference from the original
  // outputs an explicit lever may make; unset = no gate (an explicit lever is
  // served unless its outputs are not finite).
  std::optional<double> accuracy_tolerance;
  LinearKernel linear_kernel = LinearKernel::kAuto;  // LINEAR_KERNEL
  // Not a parameter (the backend sets it): dimension 0 of every input is the
  // batch, so the load-time measurement may vary it.
  bool batched = false;
};

// LINEAR_KERNEL GEMV's batch limit (rows per call through the gemv path), and
// the largest batch size LINEAR_KERNEL AUTO measures.
inline constexpr int64_t kForcedGemvRows = 4;
inline constexpr int64_t kMaxMeasuredGemvRows = 8;

// Reads the keys above from the backend's `parameters` (other keys are
// ignored). InvalidArgument for a bad value or a combination that cannot work
// (FP16 on CPU, BF16 with int8, DYNAMIC_INT8 or LINEAR_KERNEL GEMV without
// OPTIMIZE).
absl::StatusOr<AccelerationOptions> ParseAccelerationOptions(
    const std::vector<std::pair<std::string, std::string>>& parameters);

// Makes options.quantized_engine libtorch's quantized engine (process-wide in
// libtorch: packed weights are made for the engine current when a module is
// loaded or quantized). InvalidArgument naming the engines this libtorch has.
absl::Status SelectQuantizedEngine(const AccelerationOptions& options);

// How a module has to be called.
enum class RunMode {
  kPlain,         // as is
  kBf16Weights,   // weights are bf16: float inputs cast to bf16, float outputs back to fp32
  kBf16Autocast,  // fp32 weights, run under CPU autocast to bf16, float outputs back to fp32
};

struct AcceleratedModule {
  torch::jit::Module module;
  RunMode mode = RunMode::kPlain;
  bool inference_mode = true;
  std::string description;          // e.g. "frozen + optimize_for_inference"
  std::vector<std::string> notes;   // fallbacks and unverified changes, for load warnings
  // Constant-weight Linear layers run by the BLAS's gemv up to this batch size
  // (LINEAR_KERNEL); 0 = none.
  int64_t gemv_rows = 0;
  // Relative L2 difference from the original's outputs on the samples (the
  // largest over samples and outputs); nullopt when not measured.
  std::optional<double> difference;
};

// Runs forward() as `m.mode` requires, under InferenceMode (or NoGrad).
// Throws what libtorch throws.
c10::IValue RunAccelerated(AcceleratedModule& m, std::vector<c10::IValue> args);

// Builds the module to serve from `original` (loaded, in eval mode).
// `samples`: argument lists for forward() to check candidates on (the
// config's warm-up inputs, else generated); empty when the config gives no
// shapes (then the default OPTIMIZE is skipped and an explicit lever is
// applied unchecked, with a note).
// The default OPTIMIZE (not set) is kept only when its outputs match the
// original's closely; an explicit lever (PRECISION BF16, QUANTIZATION
// DYNAMIC_INT8, OPTIMIZE true) is served unless its outputs are not finite,
// with the measured difference noted, or beyond ACCURACY_TOLERANCE when set.
// Errors: a STATIC_INT8 request on a module that is not quantized; an explicit
// lever that cannot be served (every way of applying it failed, gave
// non-finite outputs, or exceeded ACCURACY_TOLERANCE).
absl::StatusOr<AcceleratedModule> Accelerate(const torch::jit::Module& original,
                                             const AccelerationOptions& options,
                                             const std::vector<std::vector<c10::IValue>>& samples);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_TORCHSCRIPT_ACCELERATION_H_
