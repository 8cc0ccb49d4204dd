// Batch assembly: concatenating independent requests' inputs along dimension
// 0 (padding variable-length inputs) and splitting a batch's outputs back.
// Pure functions over core::Tensor; no threads, no libtorch.
//
//   ASSIGN_OR_RETURN(std::vector<Tensor> batch, GatherInputs(items, padding));
//   ... run the model ...
//   ASSIGN_OR_RETURN(auto per_item, ScatterOutputs(outputs, items, trim));
#ifndef PTSERVE_SCHEDULER_BATCH_ASSEMBLY_H_
#define PTSERVE_SCHEDULER_BATCH_ASSEMBLY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace ptserve {

// How one input is padded when requests of different lengths share a batch.
struct InputPadding {
  bool enabled = false;
  double value = 0;  // converted to the input's dtype
};

// One request's view of a batch: its inputs (model order, dim 0 = its rows).
using ItemInputs = std::vector<Tensor>;

// Rows (dimension 0) of a request: the batch dimension of its first input.
int64_t ItemRows(const ItemInputs& inputs);

// True when `a` and `b` may share a batch: for every input, same dtype and
// rank, and the same non-batch dimensions unless that input is padded.
bool Compatible(const ItemInputs& a, const ItemInputs& b,
                const std::vector<InputPadding>& padding);

// Concatenates the items along dimension 0. A single item is returned as-is
// (no copy). Padded inputs are padded in every non-batch dimension to the
// largest size among the items. BYTES inputs are concatenated as byte
// strings (their serialized elements). `padding` may be empty (no padding).
absl::StatusOr<std::vector<Tensor>> GatherInputs(const std::vector<const ItemInputs*>& items,
                                                 const std::vector<InputPadding>& padding);

// Splits batch outputs by the items' row counts. Each item's slices are
// views into the batch outputs (no copy) except for outputs listed in
// `trim_outputs` (indices), whose dimension 1 is cut back to the item's own
// length of the first padded input's dimension 1 (a copy).
absl::StatusOr<std::vector<std::vector<Tensor>>> ScatterOutputs(
    const std::vector<Tensor>& outputs, const std::vector<const ItemInputs*>& items,
    const std::vector<InputPadding>& padding, const std::vector<int>& trim_outputs);

}  // namespace ptserve

#endif  // PTSERVE_SCHEDULER_BATCH_ASSEMBLY_H_
