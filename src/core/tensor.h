// Tensor: a plain, library-free tensor: element type, shape and a shared,
// immutable byte buffer in row-major (C) order, little-endian.
//
// A Tensor never copies on its own: View() wraps bytes that some other object
// owns (e.g. an HTTP request body) and keeps that owner alive; Allocate()
// makes a fresh zero-filled buffer that may be written through mutable_data()
// until the tensor is shared. Copies of a Tensor share the buffer.
//
// BYTES tensors hold their serialized form: for each element a 4-byte
// little-endian length followed by that many bytes.
//
//   Tensor t = Tensor::Allocate(DataType::kFp32, {2, 3}).value();
//   float* p = reinterpret_cast<float*>(t.mutable_data());
#ifndef PTSERVE_CORE_TENSOR_H_
#define PTSERVE_CORE_TENSOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data_type.h"

namespace ptserve {

using Shape = std::vector<int64_t>;

// Number of elements of `shape`; InvalidArgument when a dimension is negative
// or the product overflows int64 (or would exceed `max_elements`).
absl::StatusOr<int64_t> ElementCount(const Shape& shape,
                                     int64_t max_elements = INT64_MAX);

// "[1,3,224,224]"
std::string ShapeToString(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;

  // Wraps `byte_size` bytes at `data`, kept alive by `owner`. No copy.
  static Tensor View(DataType dtype, Shape shape, std::shared_ptr<const void> owner,
                     const uint8_t* data, size_t byte_size);

  // A zero-filled buffer for a fixed-size dtype. InvalidArgument for kBytes
  // or a shape whose byte size overflows.
  static absl::StatusOr<Tensor> Allocate(DataType dtype, Shape shape);

  // Takes ownership of `bytes` (which must already have the right size).
  static Tensor FromBytes(DataType dtype, Shape shape, std::string bytes);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  void set_shape(Shape shape) { shape_ = std::move(shape); }
  int64_t element_count() const;
  const uint8_t* data() const { return data_; }
  size_t byte_size() const { return byte_size_; }
  // The object keeping data() alive.
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // Writable only for tensors made by Allocate(); nullptr otherwise.
  uint8_t* mutable_data() { return writable_ ? const_cast<uint8_t*>(data_) : nullptr; }

  template <typename T>
  const T* data_as() const { return reinterpret_cast<const T*>(data_); }

 private:
  DataType dtype_ = DataType::kFp32;
  Shape shape_;
  std::shared_ptr<const void> owner_;
  const uint8_t* data_ = nullptr;
  size_t byte_size_ = 0;
  bool writable_ = false;
};

}  // namespace ptserve

#endif  // PTSERVE_CORE_TENSOR_H_
