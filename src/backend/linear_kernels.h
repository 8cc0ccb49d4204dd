// Linear layers at small batch sizes through the BLAS's matrix-vector path.
// libtorch runs aten::linear as a GEMM, and the BLAS (OpenBLAS) repacks the
// weight matrix on every call: at one row that costs several times the
// product itself, which the matrix-vector kernel (sgemv) reads straight from
// the weight. The operator ptserve::linear (registered by this file pair,
// TORCH_LIBRARY in ptserve's own binary) takes that path for inputs with few
// rows; RewriteLinearsToGemv puts it in place of the constant-weight
// aten::linear nodes of a frozen graph. Whether that is faster is measured at
// load (torchscript_acceleration.cc, LINEAR_KERNEL).
//
//   ptserve::linear(Tensor input, Tensor weight, Tensor? bias, int max_gemv_rows) -> Tensor
//
// Libtorch headers: include only from the backend's .cc files.
#ifndef PTSERVE_BACKEND_LINEAR_KERNELS_H_
#define PTSERVE_BACKEND_LINEAR_KERNELS_H_

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <memory>

namespace ptserve {

// The operator's qualified name.
inline constexpr char kGemvLinearOperator[] = "ptserve::linear";

// at::linear(input, weight, bias), with the same result shape, dtype and
// device; when the input's rows (its leading dimensions flattened) number
// 1..max_gemv_rows, computed one row at a time by at::addmv (the BLAS's
// gemv). Only fp32 CPU inputs with a contiguous 2-D fp32 weight (and fp32
// 1-D bias) outside autograd take that path; anything else is at::linear's
// (its errors included). c10::optional: the type libtorch 1.13's operator
// registration takes (2.x makes it std::optional).
at::Tensor LinearWithGemv(const at::Tensor& input, const at::Tensor& weight,
                          const c10::optional<at::Tensor>& bias, int64_t max_gemv_rows);

// Replaces, in `graph` and its sub-blocks, every aten::linear whose weight is
// a constant fp32 2-D tensor and whose bias is a constant (fp32 1-D tensor or
// None) with ptserve::linear(..., max_gemv_rows). Returns how many.
int RewriteLinearsToGemv(const std::shared_ptr<torch::jit::Graph>& graph, int64_t max_gemv_rows);

// Sets max_gemv_rows of every ptserve::linear in `graph` (and its sub-blocks)
// to `rows`; 0 sends every call to at::linear. Returns how many nodes.
int SetMaxGemvRows(const std::shared_ptr<torch::jit::Graph>& graph, int64_t rows);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_LINEAR_KERNELS_H_
