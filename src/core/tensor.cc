#include "core/tensor.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ptserve {

absl::StatusOr<int64_t> ElementCount(const Shape& shape, int64_t max_elements) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeToString(shape), " has a negative dimension"));
    }
    if (dim != 0 && count > max_elements / dim) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeToString(shape), " has too many elements"));
    }
    count *= dim;
  }
  return count;
}

std::string ShapeToString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

Tensor Tensor::View(DataType dtype, Shape shape, std::shared_ptr<const void> owner,
                    const uint8_t* data, size_t byte_size) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.owner_ = std::move(owner);
  t.data_ = data;
  t.byte_size_ = byte_size;
  return t;
}

absl::StatusOr<Tensor> Tensor::Allocate(DataType dtype, Shape shape) {
  if (dtype == DataType::kBytes) {
    return absl::InvalidArgumentError("cannot allocate a BYTES tensor by shape");
  }
  const int64_t element_size = static_cast<int64_t>(DataTypeSize(dtype));
  auto count = ElementCount(shape, INT64_MAX / element_size);
  if (!count.ok()) return count.status();
  auto buffer = std::make_shared<std::vector<uint8_t>>(*count * element_size);
  Tensor t = View(dtype, std::move(shape), buffer, buffer->data(), buffer->size());
  t.writable_ = true;
  return t;
}

Tensor Tensor::FromBytes(DataType dtype, Shape shape, std::string bytes) {
  auto buffer = std::make_shared<std::string>(std::move(bytes));
  const auto* data = reinterpret_cast<const uint8_t*>(buffer->data());
  size_t size = buffer->size();
  return View(dtype, std::move(shape), std::move(buffer), data, size);
}

int64_t Tensor::element_count() const {
  int64_t count = 1;
  for (int64_t dim : shape_) count *= dim;
  return count;
}

}  // namespace ptserve
