#include "backend/torch_tensor.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace ptserve {

absl::StatusOr<at::ScalarType> ToTorchType(DataType type) {
  switch (type) {
    case DataType::kBool: return at::kBool;
    case DataType::kUint8: return at::kByte;
    case DataType::kInt8: return at::kChar;
    case DataType::kInt16: return at::kShort;
    case DataType::kInt32: return at::kInt;
    case DataType::kInt64: return at::kLong;
    case DataType::kFp16: return at::kHalf;
    case DataType::kBf16: return at::kBFloat16;
    case DataType::kFp32: return at::kFloat;
    case DataType::kFp64: return at::kDouble;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("datatype ", std::string(DataTypeName(type)),
                       " has no libtorch equivalent (libtorch 1.13 has no unsigned types above "
                       "8 bits and no strings)"));
  }
}

absl::StatusOr<DataType> FromTorchType(at::ScalarType type) {
  switch (type) {
    case at::kBool: return DataType::kBool;
    case at::kByte: return DataType::kUint8;
    case at::kChar: return DataType::kInt8;
    case at::kShort: return DataType::kInt16;
    case at::kInt: return DataType::kInt32;
    case at::kLong: return DataType::kInt64;
    case at::kHalf: return DataType::kFp16;
    case at::kBFloat16: return DataType::kBf16;
    case at::kFloat: return DataType::kFp32;
    case at::kDouble: return DataType::kFp64;
    default:
      return absl::InternalError(
          absl::StrCat("the model returned a tensor of type ", c10::toString(type),
                       ", which has no KServe datatype"));
  }
}

absl::StatusOr<at::Tensor> ToAten(const Tensor& tensor) {
  auto type = ToTorchType(tensor.dtype());
  if (!type.ok()) return type.status();
  std::vector<int64_t> sizes(tensor.shape().begin(), tensor.shape().end());
  const auto options = at::TensorOptions().dtype(*type);
  const size_t align = DataTypeSize(tensor.dtype());
  if (tensor.data() == nullptr || reinterpret_cast<uintptr_t>(tensor.data()) % align != 0) {
    at::Tensor copy = at::empty(sizes, options);
    if (tensor.byte_size() > 0) std::memcpy(copy.data_ptr(), tensor.data(), tensor.byte_size());
    return copy;
  }
  std::shared_ptr<const void> owner = tensor.owner();
  return at::from_blob(const_cast<uint8_t*>(tensor.data()), sizes,
                       [owner](void*) mutable { owner.reset(); }, options);
}

absl::StatusOr<Tensor> FromAten(const at::Tensor& tensor) {
  auto type = FromTorchType(tensor.scalar_type());
  if (!type.ok()) return type.status();
  auto holder = std::make_shared<at::Tensor>(tensor.cpu().contiguous());
  Shape shape(holder->sizes().begin(), holder->sizes().end());
  const auto* data = static_cast<const uint8_t*>(holder->data_ptr());
  const size_t size = holder->nbytes();
  return Tensor::View(*type, std::move(shape), std::move(holder), data, size);
}

}  // namespace ptserve
