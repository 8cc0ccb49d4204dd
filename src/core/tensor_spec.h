// TensorSpec: what a model declares about one input or output.
#ifndef PTSERVE_CORE_TENSOR_SPEC_H_
#define PTSERVE_CORE_TENSOR_SPEC_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/data_type.h"
#include "core/tensor.h"

namespace ptserve {

struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kFp32;
  // Dimensions excluding the batch dimension when the model batches; -1 is
  // variable. Ignored when `any_shape` (nothing is known about the rank).
  Shape dims;
  bool any_shape = false;
  bool optional = false;
};

// Checks `shape` (full shape, including the batch dimension when
// `batched`) against `spec`; `max_batch_size` bounds dim 0 when batched.
// InvalidArgument naming the tensor and both shapes when they disagree.
absl::Status CheckShape(const TensorSpec& spec, const Shape& shape, bool batched,
                        int64_t max_batch_size);

// The metadata shape: [-1, dims...] when batched, else dims.
Shape MetadataShape(const TensorSpec& spec, bool batched);

// Triton's positional names: IndexedName("INPUT__3", "INPUT__") == 3;
// nullopt when `name` is not `prefix` followed by a non-negative number.
std::optional<int> IndexedName(std::string_view name, std::string_view prefix);

}  // namespace ptserve

#endif  // PTSERVE_CORE_TENSOR_SPEC_H_
