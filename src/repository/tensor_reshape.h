// Triton's `reshape` on inputs and outputs: the client sends (and receives)
// tensors shaped by `dims`; the model takes (and returns) them shaped by
// `reshape { shape }`. The batch dimension, when the model batches, is kept.
// A reshape only relabels the shape of contiguous data: no copy.
//
//   TensorReshapes r = ...;                        // from the config
//   request.inputs = ModelSideSpecs(client_inputs, r.inputs);
//   model = ReshapeModel(std::move(model), client_inputs, client_outputs, r, batched);
#ifndef PTSERVE_REPOSITORY_TENSOR_RESHAPE_H_
#define PTSERVE_REPOSITORY_TENSOR_RESHAPE_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "core/tensor.h"
#include "core/tensor_spec.h"

namespace ptserve {

// Per input and per output (config order): the model-side shape, or nullopt.
struct TensorReshapes {
  std::vector<std::optional<Shape>> inputs;
  std::vector<std::optional<Shape>> outputs;
  bool any() const;
};

// `specs` with dims replaced by the reshape where there is one.
std::vector<TensorSpec> ModelSideSpecs(const std::vector<TensorSpec>& specs,
                                       const std::vector<std::optional<Shape>>& reshapes);

// `t` relabelled to `to` (with the batch dimension kept in front when
// `batched`); at most one -1 in `to`, resolved from the element count.
// InvalidArgument when the element counts disagree.
absl::StatusOr<Tensor> Reshape(Tensor t, const Shape& to, bool batched);

// Wraps `model` (loaded with ModelSideSpecs) so that its inputs() and
// outputs() are the client-side specs and its instances reshape on the way in
// and out. Returns `model` itself when `reshapes` has none.
std::shared_ptr<LoadedModel> ReshapeModel(std::shared_ptr<LoadedModel> model,
                                          std::vector<TensorSpec> client_inputs,
                                          std::vector<TensorSpec> client_outputs,
                                          TensorReshapes reshapes, bool batched);

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_TENSOR_RESHAPE_H_
