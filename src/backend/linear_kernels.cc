#include "backend/linear_kernels.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/library.h>

#include <vector>

#include "backend/graph_nodes.h"

namespace ptserve {
namespace {

using torch::jit::Node;

bool IsFp32Cpu(const at::Tensor& t) {
  return t.defined() && t.scalar_type() == at::kFloat && t.device().is_cpu() && !t.is_sparse() &&
         !t.is_mkldnn() && !t.is_quantized();
}

// Whether LinearWithGemv's matrix-vector path may compute this call.
bool GemvApplies(const at::Tensor& input, const at::Tensor& weight,
                 const c10::optional<at::Tensor>& bias, int64_t rows, int64_t max_gemv_rows) {
  if (rows < 1 || rows > max_gemv_rows) return false;
  if (!IsFp32Cpu(input) || input.dim() < 1 || input.is_conj() || input.is_neg()) return false;
  if (!IsFp32Cpu(weight) || weight.dim() != 2 || !weight.is_contiguous()) return false;
  if (weight.size(1) != input.size(-1) || weight.size(0) == 0) return false;
  const bool has_bias = bias.has_value() && bias->defined();
  if (has_bias && (!IsFp32Cpu(*bias) || bias->dim() != 1 || bias->size(0) != weight.size(0))) {
    return false;
  }
  // addmv_out has no derivative for `out`: leave autograd to at::linear.
  if (at::GradMode::is_enabled() &&
      (input.requires_grad() || weight.requires_grad() || (has_bias && bias->requires_grad()))) {
    return false;
  }
  return true;
}

c10::Symbol GemvLinearSymbol() {
  static const c10::Symbol symbol = c10::Symbol::fromQualString(kGemvLinearOperator);
  return symbol;
}

}  // namespace

at::Tensor LinearWithGemv(const at::Tensor& input, const at::Tensor& weight,
                          const c10::optional<at::Tensor>& bias, int64_t max_gemv_rows) {
  const int64_t features = input.dim() > 0 ? input.size(-1) : 0;
  const int64_t rows = features > 0 ? input.numel() / features : 0;
  if (!GemvApplies(input, weight, bias, rows, max_gemv_rows)) {
    return at::linear(input, weight, bias);
  }
  std::vector<int64_t> shape(input.sizes().begin(), input.sizes().end());
  shape.back() = weight.size(0);
  at::Tensor out = at::empty(shape, input.options().memory_format(at::MemoryFormat::Contiguous));
  const bool has_bias = bias.has_value() && bias->defined();
  if (input.dim() == 1) {
    if (has_bias) return at::addmv_out(out, *bias, weight, input);
    return at::mv_out(out, weight, input);
  }
  // reshape copies only an input whose rows cannot be viewed as a matrix.
  const at::Tensor x = input.reshape({rows, features});
  const at::Tensor y = out.view({rows, weight.size(0)});
  for (int64_t i = 0; i < rows; ++i) {
    at::Tensor y_row = y.select(0, i);
    if (has_bias) {
      at::addmv_out(y_row, *bias, weight, x.select(0, i));
    } else {
      at::mv_out(y_row, weight, x.select(0, i));
    }
  }
  return out;
}

int RewriteLinearsToGemv(const std::shared_ptr<torch::jit::Graph>& graph, int64_t max_gemv_rows) {
  int replaced = 0;
  for (Node* n : NodesOfKind(graph->block(), c10::aten::linear)) {
    if (n->inputs().size() != 3 || n->outputs().size() != 1) continue;
    // auto: c10::optional in libtorch 1.13, std::optional in 2.x.
    const auto weight = torch::jit::toIValue(n->input(1));
    const auto bias = torch::jit::toIValue(n->input(2));
    if (!weight || !weight->isTensor() || !bias) continue;
    const at::Tensor& w = weight->toTensor();
    if (!IsFp32Cpu(w) || w.dim() != 2 || !w.is_contiguous()) continue;
    if (!bias->isNone() &&
        (!bias->isTensor() || !IsFp32Cpu(bias->toTensor()) || bias->toTensor().dim() != 1)) {
      continue;
    }
    torch::jit::WithInsertPoint guard(n);
    Node* gemv = graph->create(GemvLinearSymbol(), {n->input(0), n->input(1), n->input(2),
                                                    graph->insertConstant(max_gemv_rows)});
    gemv->insertBefore(n);
    gemv->output()->setType(n->output()->type());
    n->output()->replaceAllUsesWith(gemv->output());
    n->destroy();
    ++replaced;
  }
  return replaced;
}

int SetMaxGemvRows(const std::shared_ptr<torch::jit::Graph>& graph, int64_t rows) {
  std::vector<Node*> nodes = NodesOfKind(graph->block(), GemvLinearSymbol());
  for (Node* n : nodes) {
    torch::jit::WithInsertPoint guard(n);
    n->replaceInput(3, graph->insertConstant(rows));
  }
  if (!nodes.empty()) torch::jit::EliminateDeadCode(graph);  // the old constants
  return static_cast<int>(nodes.size());
}

// CompositeImplicitAutograd (def with a function): one kernel for every
// backend, autograd traced through the at:: calls it makes.
TORCH_LIBRARY(ptserve, m) {
  m.def("linear(Tensor input, Tensor weight, Tensor? bias, int max_gemv_rows) -> Tensor",
        &LinearWithGemv);
}

}  // namespace ptserve
