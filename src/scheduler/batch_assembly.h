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

// Bounds on the tensors a batch is assembled into (padding included): each
// input tensor at most `max_elements` elements, all of one batch's input
// tensors together at most `max_bytes` bytes.
struct BatchLimits {
  int64_t max_elements = INT64_MAX;
  int64_t max_bytes = INT64_MAX;
  // Input names (model order) for messages; "input <i>" where missing.
  std::vector<std::string> input_names;
};

// The input tensors of a batch being assembled, as GatherInputs will make
// them, tracked one item at a time without allocating them: lets the
// scheduler leave out a request that would make a padded batch exceed its
// limits (it then runs in another batch) before anything is allocated.
class BatchExtent {
 public:
  BatchExtent(const std::vector<InputPadding>& padding, const BatchLimits& limits)
      : padding_(padding), limits_(limits) {}

  // Adds `item` when the batch with it still fits the limits; otherwise
  // leaves the extent unchanged and returns InvalidArgument naming the
  // input, the batch shape it would have and the limit. Items must be
  // Compatible() with each other.
  absl::Status Add(const ItemInputs& item);

  const std::vector<Shape>& shapes() const { return shapes_; }

 private:
  const std::vector<InputPadding>& padding_;
  const BatchLimits& limits_;
  std::vector<Shape> shapes_;        // per input; empty before the first item
  std::vector<int64_t> bytes_;       // per input, for the byte limit
};

// What one request could cost a padded batch it shares: each padded input's
// shape with its zero-sized non-batch dimensions counted as 1 (padding
// fills them up to a partner's size) must fit `limits` on its own. A request
// such as [1, 0, 1099511627776] holds no elements but would make any padded
// batch it joins enormous; it gets InvalidArgument naming the input, its
// shape and the limit. Unpadded inputs are checked as they are.
absl::Status CheckItemFootprint(const ItemInputs& item, const std::vector<InputPadding>& padding,
                                const BatchLimits& limits);

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
// The batch's size is checked against `limits` (BatchExtent) before
// anything is allocated: InvalidArgument when it does not fit.
absl::StatusOr<std::vector<Tensor>> GatherInputs(const std::vector<const ItemInputs*>& items,
                                                 const std::vector<InputPadding>& padding,
                                                 const BatchLimits& limits = {});

// Splits batch outputs by the items' row counts. Each item's slices are
// views into the batch outputs (no copy) except for outputs listed in
// `trim_outputs` (indices), whose dimension 1 is cut back to the item's own
// length of the first padded input's dimension 1 (a copy).
absl::StatusOr<std::vector<std::vector<Tensor>>> ScatterOutputs(
    const std::vector<Tensor>& outputs, const std::vector<const ItemInputs*>& items,
    const std::vector<InputPadding>& padding, const std::vector<int>& trim_outputs);

}  // namespace ptserve

#endif  // PTSERVE_SCHEDULER_BATCH_ASSEMBLY_H_
