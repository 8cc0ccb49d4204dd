// Dynamic int8 quantization of a frozen TorchScript graph, in C++ at load
// time (config: QUANTIZATION DYNAMIC_INT8): constant fp32 weights become int8
// (symmetric, per output channel) packed for the current quantized engine;
// activations are quantized on the fly, per batch. libtorch 1.13's own
// graph-mode pass (quantize_dynamic_jit) is Python-driven and does Linear
// only; this rewrite also does LSTM.
#ifndef PTSERVE_BACKEND_DYNAMIC_QUANTIZATION_H_
#define PTSERVE_BACKEND_DYNAMIC_QUANTIZATION_H_

#include <torch/csrc/jit/ir/ir.h>

#include <memory>

namespace ptserve {

struct DynamicQuantizationCount {
  int linear = 0;  // aten::linear -> quantized::linear_dynamic
  int lstm = 0;    // aten::lstm -> aten::quantized_lstm (use_dynamic)
  int total() const { return linear + lstm; }
};

// Rewrites, in `graph` and its sub-blocks:
// - aten::linear whose weight is a constant fp32 matrix;
// - aten::lstm (padded input, not a PackedSequence) with biases whose
//   weights are a constant list of fp32 tensors (a frozen nn.LSTM, any
//   number of layers, uni- or bidirectional).
// Anything else is left as it is. Throws what libtorch throws.
DynamicQuantizationCount QuantizeDynamicInt8(const std::shared_ptr<torch::jit::Graph>& graph);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_DYNAMIC_QUANTIZATION_H_
