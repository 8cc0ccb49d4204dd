#include "scheduler/batch_assembly.h"

#include <algorithm>
#include <cstdint>
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
    // A zero-element batch has no buffers (null): memcpy with null is undefined even for 0 bytes.
    if (n > 0) std::memcpy(dst, src, n * elem);
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

std::string InputName(const BatchLimits& limits, size_t i) {
  if (i < limits.input_names.size()) return absl::StrCat("'", limits.input_names[i], "'");
  return absl::StrCat(i);
}

// Elements and bytes of one input tensor of `shape`, or an error naming it.
absl::Status CheckTensor(const Shape& shape, DataType dtype, int64_t raw_bytes, size_t i,
                         const BatchLimits& limits, absl::string_view what, int64_t* bytes) {
  int64_t elements = 1;
  bool overflow = false;
  for (int64_t d : shape) overflow |= d < 0 || __builtin_mul_overflow(elements, d, &elements);
  if (overflow || elements > limits.max_elements) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input ", InputName(limits, i), ": ", what, " ", ShapeToString(shape), " (",
        overflow ? "more than 2^63" : absl::StrCat(elements), " elements), more than the limit of ",
        limits.max_elements, " elements per tensor (--max-tensor-elements)"));
  }
  if (dtype == DataType::kBytes) {
    *bytes = raw_bytes;
  } else if (__builtin_mul_overflow(elements, static_cast<int64_t>(DataTypeSize(dtype)), bytes)) {
    *bytes = INT64_MAX;
  }
  return absl::OkStatus();
}

absl::Status CheckTotalBytes(const std::vector<int64_t>& bytes, const BatchLimits& limits,
                             absl::string_view what) {
  int64_t total = 0;
  for (int64_t b : bytes) {
    if (__builtin_add_overflow(total, b, &total)) total = INT64_MAX;
  }
  if (total > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " would take ", total,
                                                   " bytes of input tensors, more than the limit "
                                                   "of ", limits.max_bytes, " bytes per batch"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status BatchExtent::Add(const ItemInputs& item) {
  std::vector<Shape> shapes = shapes_;
  std::vector<int64_t> raw = bytes_;
  const bool first = shapes.empty();
  if (first) {
    shapes.resize(item.size());
    raw.assign(item.size(), 0);
  }
  if (shapes.size() != item.size()) {
    return absl::InvalidArgumentError("requests with different numbers of inputs in one batch");
  }
  std::vector<int64_t> bytes(item.size(), 0);
  for (size_t i = 0; i < item.size(); ++i) {
    const Shape& s = item[i].shape();
    if (first) {
      shapes[i] = s;
    } else {
      if (shapes[i].size() != s.size() || s.empty()) {
        return absl::InvalidArgumentError("requests of different ranks in one batch");
      }
      if (__builtin_add_overflow(shapes[i][0], s[0], &shapes[i][0])) shapes[i][0] = INT64_MAX;
      for (size_t d = 1; d < s.size(); ++d) shapes[i][d] = std::max(shapes[i][d], s[d]);
    }
    if (__builtin_add_overflow(raw[i], static_cast<int64_t>(item[i].byte_size()), &raw[i])) {
      raw[i] = INT64_MAX;
    }
    RETURN_IF_ERROR(CheckTensor(shapes[i], item[i].dtype(), raw[i], i, limits_,
                                Padded(padding_, i) ? "padding this request into the batch makes it"
                                                    : "the batch would be",
                                &bytes[i]));
  }
  RETURN_IF_ERROR(CheckTotalBytes(bytes, limits_, "this batch"));
  shapes_ = std::move(shapes);
  bytes_ = std::move(raw);
  return absl::OkStatus();
}

absl::Status CheckItemFootprint(const ItemInputs& item, const std::vector<InputPadding>& padding,
                                const BatchLimits& limits) {
  std::vector<int64_t> bytes(item.size(), 0);
  for (size_t i = 0; i < item.size(); ++i) {
    Shape shape = item[i].shape();
    const bool padded = Padded(padding, i);
    if (padded) {
      for (size_t d = 1; d < shape.size(); ++d) shape[d] = std::max<int64_t>(shape[d], 1);
    }
    absl::Status status =
        CheckTensor(shape, item[i].dtype(), static_cast<int64_t>(item[i].byte_size()), i, limits,
                    padded ? "padded in a batch, it needs at least" : "shape", &bytes[i]);
    if (!status.ok()) {
      if (!padded) return status;
      return absl::InvalidArgumentError(absl::StrCat(
          status.message(), "; the request's shape is ", ShapeToString(item[i].shape()),
          " and this input is padded (PAD_INPUTS), so its zero-sized dimensions count as 1"));
    }
  }
  return CheckTotalBytes(bytes, limits, "this request");
}

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
                                                 const std::vector<InputPadding>& padding,
                                                 const BatchLimits& limits) {
  if (items.empty()) return absl::InternalError("empty batch");
  if (items.size() == 1) return *items[0];
  {
    BatchExtent extent(padding, limits);
    for (const ItemInputs* item : items) RETURN_IF_ERROR(extent.Add(*item));
  }
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
        if (t.byte_size() > 0) std::memcpy(dst, t.data(), t.byte_size());
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
