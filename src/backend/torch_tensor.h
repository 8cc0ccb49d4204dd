// Conversions between ptserve's library-free Tensor and at::Tensor.
#ifndef PTSERVE_BACKEND_TORCH_TENSOR_H_
#define PTSERVE_BACKEND_TORCH_TENSOR_H_

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace ptserve {

absl::StatusOr<at::ScalarType> ToTorchType(DataType type);
absl::StatusOr<DataType> FromTorchType(at::ScalarType type);

// Wraps the tensor's bytes without copying (the at::Tensor keeps the
// Tensor's owner alive); copies only when the data is misaligned for its type.
absl::StatusOr<at::Tensor> ToAten(const Tensor& tensor);

// Makes the at::Tensor contiguous and on the CPU, then shares its memory.
absl::StatusOr<Tensor> FromAten(const at::Tensor& tensor);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_TORCH_TENSOR_H_
