#include "protocol/tensor_json.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "core/half.h"
#include "protocol/json_reader.h"
#include "protocol/json_writer.h"

namespace ptserve {

static_assert(std::endian::native == std::endian::little,
              "tensor bytes are little-endian; big-endian hosts need byte swapping");

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// ---------------------------------------------------------------- decoding

absl::string_view DataTypeNameView(DataType dtype) {
  const std::string_view name = DataTypeName(dtype);
  return absl::string_view(name.data(), name.size());
}

enum class LeafError { kNone, kNotNumber, kNotInteger, kOutOfRange, kNotBool, kNotString };

template <typename T>
LeafError ToInteger(element e, T* out) {
  switch (e.type()) {
    case element_type::INT64: {
      const int64_t v = e.get_int64().value_unsafe();
      if constexpr (std::is_signed_v<T>) {
        if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
          return LeafError::kOutOfRange;
        }
      } else {
        if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) {
          return LeafError::kOutOfRange;
        }
      }
      *out = static_cast<T>(v);
      return LeafError::kNone;
    }
    case element_type::UINT64: {  // only values above INT64_MAX
      const uint64_t v = e.get_uint64().value_unsafe();
      if constexpr (std::is_same_v<T, uint64_t>) {
        *out = v;
        return LeafError::kNone;
      }
      return LeafError::kOutOfRange;
    }
    case element_type::DOUBLE:
      return LeafError::kNotInteger;
    default:
      return LeafError::kNotNumber;
  }
}

LeafError ToDouble(element e, double* out) {
  switch (e.type()) {
    case element_type::INT64:
      *out = static_cast<double>(e.get_int64().value_unsafe());
      return LeafError::kNone;
    case element_type::UINT64:
      *out = static_cast<double>(e.get_uint64().value_unsafe());
      return LeafError::kNone;
    case element_type::DOUBLE:
      *out = e.get_double().value_unsafe();
      return LeafError::kNone;
    case element_type::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      if (s == "NaN") {
        *out = std::numeric_limits<double>::quiet_NaN();
      } else if (s == "Infinity") {
        *out = std::numeric_limits<double>::infinity();
      } else if (s == "-Infinity") {
        *out = -std::numeric_limits<double>::infinity();
      } else {
        return LeafError::kNotNumber;
      }
      return LeafError::kNone;
    }
    default:
      return LeafError::kNotNumber;
  }
}

// double -> float without undefined behaviour for values beyond float's range
// (they become +-inf, as IEEE rounding would).
float DoubleToFloat(double d) {
  constexpr double kTwo128 = 340282366920938463463374607431768211456.0;
  if (d >= kTwo128) return std::numeric_limits<float>::infinity();
  if (d <= -kTwo128) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(d);
}

// Converters: bool (element, uint8_t* dst) -> LeafError, writing sizeof(T).
template <typename T>
struct IntegerLeaf {
  static constexpr size_t kSize = sizeof(T);
  LeafError operator()(element e, uint8_t* dst) const {
    T v;
    const LeafError err = ToInteger<T>(e, &v);
    if (err == LeafError::kNone) std::memcpy(dst, &v, sizeof(T));
    return err;
  }
};

struct BoolLeaf {
  static constexpr size_t kSize = 1;
  LeafError operator()(element e, uint8_t* dst) const {
    if (e.type() != element_type::BOOL) return LeafError::kNotBool;
    *dst = e.get_bool().value_unsafe() ? 1 : 0;
    return LeafError::kNone;
  }
};

template <DataType kType>
struct FloatLeaf {
  static constexpr size_t kSize = kType == DataType::kFp64 ? 8 : kType == DataType::kFp32 ? 4 : 2;
  LeafError operator()(element e, uint8_t* dst) const {
    double d;
    const LeafError err = ToDouble(e, &d);
    if (err != LeafError::kNone) return err;
    if constexpr (kType == DataType::kFp64) {
      std::memcpy(dst, &d, 8);
    } else if constexpr (kType == DataType::kFp32) {
      const float f = DoubleToFloat(d);
      std::memcpy(dst, &f, 4);
    } else {
      const float f = DoubleToFloat(d);
      const uint16_t h = kType == DataType::kFp16 ? FloatToHalf(f) : FloatToBf16(f);
      std::memcpy(dst, &h, 2);
    }
    return LeafError::kNone;
  }
};

struct WalkState {
  int64_t index = 0;  // row-major index of the next leaf
  int64_t count = 0;  // leaves to convert
  element failed;     // the leaf that failed
  LeafError error = LeafError::kNone;
};

// Fixed-size types: writes leaf i at dst + i * kSize.
template <typename Leaf>
bool WalkFixed(element e, const Leaf& leaf, uint8_t* dst, WalkState* state) {
  if (e.type() == element_type::ARRAY) {
    for (element child : simdjson::dom::array(e)) {
      if (!WalkFixed(child, leaf, dst, state)) return false;
    }
    return true;
  }
  if (state->index >= state->count) return true;  // caller checked counts
  const LeafError err = leaf(e, dst + state->index * Leaf::kSize);
  if (err != LeafError::kNone) {
    state->error = err;
    state->failed = e;
    return false;
  }
  ++state->index;
  return true;
}

bool WalkBytes(element e, std::string* out, WalkState* state) {
  if (e.type() == element_type::ARRAY) {
    for (element child : simdjson::dom::array(e)) {
      if (!WalkBytes(child, out, state)) return false;
    }
    return true;
  }
  if (state->index >= state->count) return true;
  if (e.type() != element_type::STRING) {
    state->error = LeafError::kNotString;
    state->failed = e;
    return false;
  }
  const std::string_view s = e.get_string().value_unsafe();
  const uint32_t len = static_cast<uint32_t>(s.size());
  out->append(reinterpret_cast<const char*>(&len), 4);
  out->append(s);
  ++state->index;
  return true;
}

template <typename Leaf>
bool DecodeFixed(element data, int64_t count, std::string* out, WalkState* state) {
  const size_t start = out->size();
  out->resize(start + static_cast<size_t>(count) * Leaf::kSize);
  return WalkFixed(data, Leaf{}, reinterpret_cast<uint8_t*>(out->data() + start), state);
}

const char* LeafProblem(LeafError error) {
  switch (error) {
    case LeafError::kNotNumber:
      return "is not a number";
    case LeafError::kNotInteger:
      return "is not an integer";
    case LeafError::kOutOfRange:
      return "is out of range";
    case LeafError::kNotBool:
      return "is not true or false";
    case LeafError::kNotString:
      return "is not a string";
    case LeafError::kNone:
      break;
  }
  return "is invalid";
}

absl::Status ShapeWalk(element e, const Shape& shape, size_t depth, absl::string_view where) {
  const bool is_array = e.type() == element_type::ARRAY;
  if (depth == shape.size()) {
    if (is_array) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": nested data mixes lists and values at depth ", depth));
    }
    return absl::OkStatus();
  }
  if (!is_array) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": nested data mixes lists and values at depth ", depth));
  }
  simdjson::dom::array array(e);
  int64_t n = 0;
  for (element child : array) {
    absl::Status status = ShapeWalk(child, shape, depth + 1, where);
    if (!status.ok()) return status;
    ++n;
  }
  if (n != shape[depth]) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": nested data is ragged: a list at depth ", depth, " has ", n,
                     " elements but the first has ", shape[depth]));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- encoding

// Emits element after element of a tensor; past the end of a short buffer,
// null.
template <typename T, void (*kWrite)(std::string*, T)>
class FixedEmitter {
 public:
  explicit FixedEmitter(const Tensor& t)
      : data_(t.data()), available_(t.data() == nullptr ? 0 : t.byte_size() / sizeof(T)) {}
  void operator()(std::string* out) {
    if (next_ < available_) {
      T v;
      std::memcpy(&v, data_ + next_ * sizeof(T), sizeof(T));
      kWrite(out, v);
    } else {
      out->append("null");
    }
    ++next_;
  }

 private:
  const uint8_t* data_;
  size_t available_;
  size_t next_ = 0;
};

class BytesEmitter {
 public:
  explicit BytesEmitter(const Tensor& t)
      : data_(t.data()), size_(t.data() == nullptr ? 0 : t.byte_size()) {}
  void operator()(std::string* out) {
    uint32_t len = 0;
    if (size_ - pos_ >= 4) std::memcpy(&len, data_ + pos_, 4);
    if (size_ - pos_ < 4 || size_ - pos_ - 4 < len) {
      pos_ = size_;
      out->append("null");
      return;
    }
    AppendJsonString(out, std::string_view(reinterpret_cast<const char*>(data_ + pos_ + 4), len));
    pos_ += 4 + static_cast<size_t>(len);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void WriteBool(std::string* out, uint8_t v) { AppendJsonBool(out, v != 0); }
template <typename T>
void WriteSigned(std::string* out, T v) {
  AppendJsonInt(out, v);
}
template <typename T>
void WriteUnsigned(std::string* out, T v) {
  AppendJsonUint(out, v);
}
void WriteFp16(std::string* out, uint16_t v) { AppendJsonFloat(out, HalfToFloat(v)); }
void WriteBf16(std::string* out, uint16_t v) { AppendJsonFloat(out, Bf16ToFloat(v)); }
void WriteFp32(std::string* out, float v) { AppendJsonFloat(out, v); }
void WriteFp64(std::string* out, double v) { AppendJsonDouble(out, v); }

template <typename Emit>
void EmitFlat(int64_t count, Emit& emit, std::string* out) {
  out->push_back('[');
  for (int64_t i = 0; i < count; ++i) {
    if (i != 0) out->push_back(',');
    emit(out);
  }
  out->push_back(']');
}

template <typename Emit>
void EmitNested(const int64_t* dims, size_t rank, Emit& emit, std::string* out) {
  if (rank == 0) {
    emit(out);
    return;
  }
  out->push_back('[');
  for (int64_t i = 0; i < dims[0]; ++i) {
    if (i != 0) out->push_back(',');
    EmitNested(dims + 1, rank - 1, emit, out);
  }
  out->push_back(']');
}

template <typename Emitter>
void EmitTensor(const Tensor& tensor, bool nested, size_t skip_dims, std::string* out) {
  Emitter emit(tensor);
  const Shape& shape = tensor.shape();
  if (nested) {
    const size_t skip = std::min(skip_dims, shape.size());
    EmitNested(shape.data() + skip, shape.size() - skip, emit, out);
  } else {
    EmitFlat(std::max<int64_t>(ElementCount(shape).value_or(0), 0), emit, out);
  }
}

}  // namespace

int64_t CountJsonLeaves(element data) {
  if (data.type() != element_type::ARRAY) return 1;
  int64_t n = 0;
  for (element child : simdjson::dom::array(data)) {
    n += child.type() == element_type::ARRAY ? CountJsonLeaves(child) : 1;
  }
  return n;
}

absl::Status AppendJsonData(element data, DataType dtype, int64_t count, absl::string_view where,
                            std::string* out) {
  WalkState state;
  state.count = count;
  bool ok = false;
  switch (dtype) {
    case DataType::kBool:
      ok = DecodeFixed<BoolLeaf>(data, count, out, &state);
      break;
    case DataType::kUint8:
      ok = DecodeFixed<IntegerLeaf<uint8_t>>(data, count, out, &state);
      break;
    case DataType::kUint16:
      ok = DecodeFixed<IntegerLeaf<uint16_t>>(data, count, out, &state);
      break;
    case DataType::kUint32:
      ok = DecodeFixed<IntegerLeaf<uint32_t>>(data, count, out, &state);
      break;
    case DataType::kUint64:
      ok = DecodeFixed<IntegerLeaf<uint64_t>>(data, count, out, &state);
      break;
    case DataType::kInt8:
      ok = DecodeFixed<IntegerLeaf<int8_t>>(data, count, out, &state);
      break;
    case DataType::kInt16:
      ok = DecodeFixed<IntegerLeaf<int16_t>>(data, count, out, &state);
      break;
    case DataType::kInt32:
      ok = DecodeFixed<IntegerLeaf<int32_t>>(data, count, out, &state);
      break;
    case DataType::kInt64:
      ok = DecodeFixed<IntegerLeaf<int64_t>>(data, count, out, &state);
      break;
    case DataType::kFp16:
      ok = DecodeFixed<FloatLeaf<DataType::kFp16>>(data, count, out, &state);
      break;
    case DataType::kBf16:
      ok = DecodeFixed<FloatLeaf<DataType::kBf16>>(data, count, out, &state);
      break;
    case DataType::kFp32:
      ok = DecodeFixed<FloatLeaf<DataType::kFp32>>(data, count, out, &state);
      break;
    case DataType::kFp64:
      ok = DecodeFixed<FloatLeaf<DataType::kFp64>>(data, count, out, &state);
      break;
    case DataType::kBytes:
      ok = WalkBytes(data, out, &state);
      break;
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": data[", state.index, "] = ", JsonSnippet(state.failed), " ",
                   LeafProblem(state.error), " (datatype ", DataTypeNameView(dtype), ")"));
}

int JsonNestingDepth(element data) {
  int depth = 0;
  while (data.type() == element_type::ARRAY) {
    ++depth;
    simdjson::dom::array array(data);
    auto it = array.begin();
    if (it == array.end()) break;
    data = *it;
  }
  return depth;
}

absl::StatusOr<Shape> JsonNestedShape(element data, absl::string_view where) {
  Shape shape;
  for (element e = data; e.type() == element_type::ARRAY;) {
    simdjson::dom::array array(e);
    int64_t n = 0;
    for ([[maybe_unused]] element child : array) ++n;
    shape.push_back(n);
    if (n == 0) break;
    e = *array.begin();
  }
  absl::Status status = ShapeWalk(data, shape, 0, where);
  if (!status.ok()) return status;
  return shape;
}

void AppendTensorJson(const Tensor& tensor, bool nested, size_t skip_dims, std::string* out) {
  switch (tensor.dtype()) {
    case DataType::kBool:
      return EmitTensor<FixedEmitter<uint8_t, WriteBool>>(tensor, nested, skip_dims, out);
    case DataType::kUint8:
      return EmitTensor<FixedEmitter<uint8_t, WriteUnsigned<uint8_t>>>(tensor, nested, skip_dims,
                                                                       out);
    case DataType::kUint16:
      return EmitTensor<FixedEmitter<uint16_t, WriteUnsigned<uint16_t>>>(tensor, nested, skip_dims,
                                                                         out);
    case DataType::kUint32:
      return EmitTensor<FixedEmitter<uint32_t, WriteUnsigned<uint32_t>>>(tensor, nested, skip_dims,
                                                                         out);
    case DataType::kUint64:
      return EmitTensor<FixedEmitter<uint64_t, WriteUnsigned<uint64_t>>>(tensor, nested, skip_dims,
                                                                         out);
    case DataType::kInt8:
      return EmitTensor<FixedEmitter<int8_t, WriteSigned<int8_t>>>(tensor, nested, skip_dims, out);
    case DataType::kInt16:
      return EmitTensor<FixedEmitter<int16_t, WriteSigned<int16_t>>>(tensor, nested, skip_dims,
                                                                     out);
    case DataType::kInt32:
      return EmitTensor<FixedEmitter<int32_t, WriteSigned<int32_t>>>(tensor, nested, skip_dims,
                                                                     out);
    case DataType::kInt64:
      return EmitTensor<FixedEmitter<int64_t, WriteSigned<int64_t>>>(tensor, nested, skip_dims,
                                                                     out);
    case DataType::kFp16:
      return EmitTensor<FixedEmitter<uint16_t, WriteFp16>>(tensor, nested, skip_dims, out);
    case DataType::kBf16:
      return EmitTensor<FixedEmitter<uint16_t, WriteBf16>>(tensor, nested, skip_dims, out);
    case DataType::kFp32:
      return EmitTensor<FixedEmitter<float, WriteFp32>>(tensor, nested, skip_dims, out);
    case DataType::kFp64:
      return EmitTensor<FixedEmitter<double, WriteFp64>>(tensor, nested, skip_dims, out);
    case DataType::kBytes:
      return EmitTensor<BytesEmitter>(tensor, nested, skip_dims, out);
  }
}

size_t EstimateTensorJsonSize(const Tensor& tensor) {
  const int64_t count = std::max<int64_t>(ElementCount(tensor.shape()).value_or(0), 0);
  size_t per_element = 0;
  switch (tensor.dtype()) {
    case DataType::kBool:
      per_element = 6;
      break;
    case DataType::kUint8:
    case DataType::kInt8:
      per_element = 4;
      break;
    case DataType::kUint16:
    case DataType::kInt16:
      per_element = 6;
      break;
    case DataType::kUint32:
    case DataType::kInt32:
      per_element = 11;
      break;
    case DataType::kUint64:
    case DataType::kInt64:
      per_element = 20;
      break;
    case DataType::kFp16:
    case DataType::kBf16:
      per_element = 12;
      break;
    case DataType::kFp32:
      per_element = 14;
      break;
    case DataType::kFp64:
      per_element = 24;
      break;
    case DataType::kBytes:
      return 2 + static_cast<size_t>(count) * 3 + tensor.byte_size() * 11 / 10;
  }
  return 2 + static_cast<size_t>(count) * per_element;
}

}  // namespace ptserve
