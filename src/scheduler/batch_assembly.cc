#include "scheduler/batch_assembly.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/half.h"
#include "core/status_macros.h"

namespace ptserve {
namespace {

bool Padded(const std::vector<InputPadding>& padding, size_t i) {
  return i < padding.size() && padding[i].enabled;
}

// The bytes of one element of `dtype` holding `value`.
std::string PadElement(DataType dtype, double value) {
  std::string out(DataTypeSize(dtype), '\0');
  auto put = [&](auto v) { std::memcpy(out.data(), &v, sizeof(v)); };
  switch (dtype) {
    case DataType::kBool: put(static_cast<uint8_t>(value != 0)); break;
    case DataType::kUint8: put(static_cast<uint8_t>(value)); break;
    case DataType::kUint16: put(static_cast<uint16_t>(value)); break;
    case DataType::kUint32: put(static_cast<uint32_t>(value)); break;
    case DataType::kUint64: put(static_cast<uint64_t>(value)); break;
    case DataType::kInt8: put(static_cast<int8_t>(value)); break;
    case DataType::kInt16: put(static_cast<int16_t>(value)); break;
    case DataType::kInt32: put(static_cast<int32_t>(value)); break;
    case DataType::kInt64: put(static_cast<int64_t>(value)); break;
    case DataType::kFp16: put(FloatToHalf(static_cast<float>(value))); break;
    case DataType::kBf16: put(FloatToBf16(static_cast<float>(value))); break;
    case DataType::kFp32: put(static_cast<float>(value)); break;
    case DataType::kFp64: put(value); break;
    case DataType::kBytes: break;
  }
  return out;
}

// Copies `src` (shape src_shape, row-major) into `dst` (shape dst_shape, same
// rank, every dim >= src's), leaving the rest of dst untouched.
void CopyPadded(const uint8_t* src, const Shape& src_shape, uint8_t* dst, const Shape& dst_shape,
                size_t elem, size_t dim = 0) {
  if (dim + 1 == src_shape.size() || src_shape.empty()) {
    const int64_t n = src_shape.empty() ? 1 : src_shape[dim];
    std::memcpy(dst, src, n * elem);
    return;
  }
  size_t src_stride = elem, dst_stride = elem;
  for (size_t d = dim + 1; d < src_shape.size(); ++d) {
    src_stride *= src_shape[d];
    dst_stride *= dst_shape[d];
  }
  for (int64_t i = 0; i < src_shape[dim]; ++i) {
    CopyPadded(src + i * src_stride, src_shape, dst + i * dst_stride, dst_shape, elem, dim + 1);
  }
}

}  // namespace

int64_t ItemRows(const ItemInputs& inputs) {
  if (inputs.empty() || inputs[0].shape().empty()) return 1;
  return inputs[0].shape()[0];
}

bool Compatible(const ItemInputs& a, const ItemInputs& b,
                const std::vector<InputPadding>& padding) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const Shape& sa = a[i].shape();
    const Shape& sb = b[i].shape();
    if (a[i].dtype() != b[i].dtype() || sa.size() != sb.size() || sa.empty()) return false;
    if (a[i].dtype() == DataType::kBytes && Padded(padding, i)) return false;
    if (!Padded(padding, i) && !std::equal(sa.begin() + 1, sa.end(), sb.begin() + 1)) return false;
  }
  return true;
}

absl::StatusOr<std::vector<Tensor>> GatherInputs(const std::vector<const ItemInputs*>& items,
                                                 const std::vector<InputPadding>& padding) {
  if (items.empty()) return absl::InternalError("empty batch");
  if (items.size() == 1) return *items[0];
  const size_t num_inputs = items[0]->size();
  std::vector<Tensor> batch;
  batch.reserve(num_inputs);
  for (size_t i = 0; i < num_inputs; ++i) {
    const Tensor& first = (*items[0])[i];
    const DataType dtype = first.dtype();
    Shape shape = first.shape();
    shape[0] = 0;
    for (const ItemInputs* item : items) {
      const Shape& s = (*item)[i].shape();
      shape[0] += s[0];
      for (size_t d = 1; d < s.size(); ++d) shape[d] = std::max(shape[d], s[d]);
    }
    if (dtype == DataType::kBytes) {
      std::string bytes;
      for (const ItemInputs* item : items) {
        const Tensor& t = (*item)[i];
        bytes.append(reinterpret_cast<const char*>(t.data()), t.byte_size());
      }
      batch.push_back(Tensor::FromBytes(dtype, shape, std::move(bytes)));
      continue;
    }
    ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(dtype, shape));
    uint8_t* dst = out.mutable_data();
    const size_t elem = DataTypeSize(dtype);
    size_t row_bytes = elem;
    for (size_t d = 1; d < shape.size(); ++d) row_bytes *= shape[d];
    if (Padded(padding, i)) {
      const std::string pad = PadElement(dtype, padding[i].value);
      if (pad.find_first_not_of('\0') != std::string::npos) {
        for (size_t off = 0; off < out.byte_size(); off += elem) std::memcpy(dst + off, pad.data(), elem);
      }
      for (const ItemInputs* item : items) {
        const Tensor& t = (*item)[i];
        Shape dst_shape = shape;
        dst_shape[0] = t.shape()[0];
        CopyPadded(t.data(), t.shape(), dst, dst_shape, elem);
        dst += t.shape()[0] * row_bytes;
      }
    } else {
      for (const ItemInputs* item : items) {
        const Tensor& t = (*item)[i];
        std::memcpy(dst, t.data(), t.byte_size());
        dst += t.byte_size();
      }
    }
    batch.push_back(std::move(out));
  }
  return batch;
}

absl::StatusOr<std::vector<std::vector<Tensor>>> ScatterOutputs(
    const std::vector<Tensor>& outputs, const std::vector<const ItemInputs*>& items,
    const std::vector<InputPadding>& padding, const std::vector<int>& trim_outputs) {
  std::vector<std::vector<Tensor>> result(items.size());
  if (items.size() == 1 && trim_outputs.empty()) {
    result[0] = outputs;
    return result;
  }
  int64_t total_rows = 0;
  for (const ItemInputs* item : items) total_rows += ItemRows(*item);
  int first_padded = -1;
  for (size_t i = 0; i < padding.size(); ++i) {
    if (padding[i].enabled) {
      first_padded = static_cast<int>(i);
      break;
    }
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& out = outputs[k];
    if (out.shape().empty() || out.shape()[0] != total_rows) {
      return absl::InternalError(absl::StrCat(
          "the model returned output ", k, " with shape ", ShapeToString(out.shape()),
          " for a batch of ", total_rows, " rows; a batching model must keep dimension 0"));
    }
    if (out.dtype() == DataType::kBytes) {
      return absl::UnimplementedError("BYTES outputs cannot be split across a batch");
    }
    const bool trim = first_padded >= 0 && out.shape().size() >= 2 &&
                      std::find(trim_outputs.begin(), trim_outputs.end(), static_cast<int>(k)) !=
                          trim_outputs.end();
    const size_t row_bytes = out.byte_size() / std::max<int64_t>(total_rows, 1);
    int64_t row = 0;
    for (size_t j = 0; j < items.size(); ++j) {
      const int64_t rows = ItemRows(*items[j]);
      Shape shape = out.shape();
      shape[0] = rows;
      const uint8_t* base = out.data() + row * row_bytes;
      if (trim) {
        const Shape& in_shape = (*items[j])[first_padded].shape();
        const int64_t length = in_shape.size() >= 2 ? in_shape[1] : shape[1];
        if (length < shape[1]) {
          Shape trimmed = shape;
          trimmed[1] = length;
          ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(out.dtype(), trimmed));
          const size_t inner = row_bytes / shape[1];  // bytes per step of dim 1
          for (int64_t r = 0; r < rows; ++r) {
            std::memcpy(t.mutable_data() + r * length * inner, base + r * row_bytes, length * inner);
          }
          result[j].push_back(std::move(t));
          row += rows;
          continue;
        }
      }
      result[j].push_back(Tensor::View(out.dtype(), std::move(shape), out.owner(), base,
                                       rows * row_bytes));
      row += rows;
    }
  }
  return result;
}

}  // namespace ptserve
