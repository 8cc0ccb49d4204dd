// Finding nodes in a TorchScript graph, for the backend's load-time graph
// rewrites (dynamic_quantization, linear_kernels).
//
// Libtorch headers: include only from the backend's .cc files.
#ifndef PTSERVE_BACKEND_GRAPH_NODES_H_
#define PTSERVE_BACKEND_GRAPH_NODES_H_

#include <torch/csrc/jit/ir/ir.h>

#include <vector>

namespace ptserve {

// The nodes of `kind` in `root` and, depth first, in its nodes' sub-blocks,
// in graph order. Collected before the caller changes the graph.
std::vector<torch::jit::Node*> NodesOfKind(torch::jit::Block* root, c10::Symbol kind);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_GRAPH_NODES_H_
