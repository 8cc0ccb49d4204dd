#include "backend/dynamic_quantization.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <ATen/ATen.h>

#include <optional>
#include <vector>

#include "backend/graph_nodes.h"

namespace ptserve {
namespace {

using torch::jit::Node;
using torch::jit::Value;

// fbgemm's int8 kernels can overflow with full-range activations on CPUs
// without VNNI; PyTorch's default qconfig for it reduces the range.
bool ReduceRange() { return at::globalContext().qEngine() == at::QEngine::FBGEMM; }

// Symmetric int8 per output channel (scale = max|w| / 127, zero point 0),
// packed with `bias` (a tensor or None) for the current engine.
c10::IValue PackInt8(const at::Tensor& weight, const c10::IValue& bias) {
  static const auto prepack =
      c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "");
  const at::Tensor scales =
      weight.abs().amax({1}).clamp_min(1e-8).div(127.0).to(at::kDouble).contiguous();
  const at::Tensor zero_points = at::zeros({weight.size(0)}, at::kLong);
  const at::Tensor qweight =
      at::quantize_per_channel(weight.contiguous(), scales, zero_points, 0, at::kQInt8);
  torch::jit::Stack stack{qweight, bias};
  prepack.callBoxed(&stack);
  return stack.at(0);
}

bool IsFp32Matrix(const c10::IValue& v) {
  return v.isTensor() && v.toTensor().scalar_type() == at::kFloat && v.toTensor().dim() == 2;
}

bool IsFp32Vector(const c10::IValue& v) {
  return v.isTensor() && v.toTensor().scalar_type() == at::kFloat && v.toTensor().dim() == 1;
}

// The tensors of a constant Tensor[] (a list constant, or a ListConstruct of
// constants, as freezing leaves nn.LSTM's flat weights).
std::optional<std::vector<at::Tensor>> ConstantTensorList(Value* v) {
  std::vector<at::Tensor> tensors;
  if (v->node()->kind() == c10::prim::ListConstruct) {
    for (Value* item : v->node()->inputs()) {
      std::optional<c10::IValue> iv = torch::jit::toIValue(item);
      if (!iv || !iv->isTensor()) return std::nullopt;
      tensors.push_back(iv->toTensor());
    }
    return tensors;
  }
  std::optional<c10::IValue> iv = torch::jit::toIValue(v);
  if (!iv || !iv->isTensorList()) return std::nullopt;
  for (const at::Tensor& t : iv->toTensorVector()) tensors.push_back(t);
  return tensors;
}

int QuantizeLinears(torch::jit::Graph& graph) {
  int replaced = 0;
  for (Node* n : NodesOfKind(graph.block(), c10::aten::linear)) {
    std::optional<c10::IValue> weight = torch::jit::toIValue(n->input(1));
    std::optional<c10::IValue> bias = torch::jit::toIValue(n->input(2));
    if (!weight || !IsFp32Matrix(*weight) || !bias) continue;
    if (!bias->isNone() && !IsFp32Vector(*bias)) continue;
    c10::IValue packed = PackInt8(weight->toTensor(), *bias);
    torch::jit::WithInsertPoint guard(n);
    Node* q = graph.create(c10::Symbol::fromQualString("quantized::linear_dynamic"),
                           {n->input(0), graph.insertConstant(packed),
                            graph.insertConstant(ReduceRange())});
    q->insertBefore(n);
    q->output()->setType(n->output()->type());
    n->output()->replaceAllUsesWith(q->output());
    n->destroy();
    ++replaced;
  }
  return replaced;
}

// aten::lstm.input(Tensor input, Tensor[] hx, Tensor[] params, bool has_biases,
//   int num_layers, float dropout, bool train, bool bidirectional, bool batch_first)
// -> aten::quantized_lstm.input(..., same, *, ScalarType? dtype, bool use_dynamic)
// with params as one quantized::make_quantized_cell_params_dynamic object per
// layer and direction (w_ih, w_hh, b_ih, b_hh), as torch.ao's dynamic LSTM.
int QuantizeLstms(torch::jit::Graph& graph) {
  static const auto make_cell = c10::Dispatcher::singleton().findSchemaOrThrow(
      "quantized::make_quantized_cell_params_dynamic", "");
  int replaced = 0;
  for (Node* n : NodesOfKind(graph.block(), c10::aten::lstm)) {
    if (n->inputs().size() != 9 || n->outputs().size() != 3) continue;
    if (!n->input(1)->type()->cast<c10::ListType>()) continue;  // the PackedSequence overload
    std::optional<c10::IValue> has_biases = torch::jit::toIValue(n->input(3));
    std::optional<c10::IValue> train = torch::jit::toIValue(n->input(6));
    if (!has_biases || !has_biases->isBool() || !has_biases->toBool()) continue;
    if (!train || !train->isBool() || train->toBool()) continue;
    std::optional<std::vector<at::Tensor>> params = ConstantTensorList(n->input(2));
    if (!params || params->empty() || params->size() % 4 != 0) continue;
    bool fp32 = true;
    for (size_t i = 0; i < params->size(); ++i) {
      const at::Tensor& t = (*params)[i];
      fp32 = fp32 && t.scalar_type() == at::kFloat && t.dim() == (i % 4 < 2 ? 2 : 1);
    }
    if (!fp32) continue;

    torch::jit::WithInsertPoint guard(n);
    std::vector<Value*> cells;
    for (size_t i = 0; i < params->size(); i += 4) {
      const at::Tensor& b_ih = (*params)[i + 2];
      const at::Tensor& b_hh = (*params)[i + 3];
      torch::jit::Stack stack{PackInt8((*params)[i], b_ih), PackInt8((*params)[i + 1], b_hh), b_ih,
                              b_hh, ReduceRange()};
      make_cell.callBoxed(&stack);
      cells.push_back(graph.insertConstant(stack.at(0)));
    }
    Value* cell_list = graph.insertNode(graph.createList(cells[0]->type(), cells))->output();
    std::vector<Value*> inputs{n->input(0), n->input(1), cell_list};
    for (size_t i = 3; i < 9; ++i) inputs.push_back(n->input(i));
    inputs.push_back(graph.insertConstant(static_cast<int64_t>(at::kQInt8)));  // dtype
    inputs.push_back(graph.insertConstant(true));                               // use_dynamic
    Node* q = graph.create(c10::Symbol::fromQualString("aten::quantized_lstm"), inputs, 3);
    q->insertBefore(n);
    for (size_t i = 0; i < 3; ++i) {
      q->output(i)->setType(n->output(i)->type());
      n->output(i)->replaceAllUsesWith(q->output(i));
    }
    n->destroy();
    ++replaced;
  }
  return replaced;
}

}  // namespace

DynamicQuantizationCount QuantizeDynamicInt8(const std::shared_ptr<torch::jit::Graph>& graph) {
  DynamicQuantizationCount count;
  count.linear = QuantizeLinears(*graph);
  count.lstm = QuantizeLstms(*graph);
  if (count.total() > 0) torch::jit::EliminateDeadCode(graph);
  return count;
}

}  // namespace ptserve
