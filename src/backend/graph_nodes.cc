#include "backend/graph_nodes.h"

#include <functional>

namespace ptserve {

std::vector<torch::jit::Node*> NodesOfKind(torch::jit::Block* root, c10::Symbol kind) {
  std::vector<torch::jit::Node*> found;
  std::function<void(torch::jit::Block*)> collect = [&](torch::jit::Block* block) {
    for (torch::jit::Node* n : block->nodes()) {
      if (n->kind() == kind) found.push_back(n);
      for (torch::jit::Block* b : n->blocks()) collect(b);
    }
  };
  collect(root);
  return found;
}

}  // namespace ptserve
