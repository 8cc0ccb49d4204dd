// Tensor data <-> JSON values, shared by the JSON codecs (KServe v2, /predict).
// Internal to src/protocol.
//
// Decoding takes the leaves of a JSON value (a scalar, or arrays nested to any
// depth, read row-major) and converts them to a DataType's little-endian
// bytes, checking each leaf:
//   BOOL             true / false
//   UINT*/INT*       JSON integers within the type's range (1.5, 1e3 and 300
//                    for UINT8 are errors)
//   FP16/BF16/FP32   any JSON number (rounded to nearest; beyond the type's
//   /FP64            range becomes +-inf), or the strings "NaN", "Infinity",
//                    "-Infinity" that JsonWriter emits for non-finite values
//   BYTES            strings, stored as a 4-byte little-endian length + bytes
// Encoding writes a tensor's elements as JSON, flat or nested by its shape.
//
// Thread-safe: no shared state. Elements passed in must stay valid for the
// call (see json_reader.h).
#ifndef PTSERVE_PROTOCOL_TENSOR_JSON_H_
#define PTSERVE_PROTOCOL_TENSOR_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/data_type.h"
#include "core/tensor.h"
#include "simdjson.h"

namespace ptserve {

// Number of leaves (non-array values) in `data`; a scalar counts 1. Allocates
// nothing, so it is safe to call before checking counts against a shape.
int64_t CountJsonLeaves(simdjson::dom::element data);

// Converts the first `count` leaves of `data` (the caller has checked
// CountJsonLeaves(data) == count) to `dtype` and appends their bytes to *out.
// Errors are InvalidArgument "<where>: data[i] = <value> <problem>", where i
// is the row-major index of the leaf.
absl::Status AppendJsonData(simdjson::dom::element data, DataType dtype, int64_t count,
                            absl::string_view where, std::string* out);

// Depth of the first-element chain: 0 for a scalar, 1 for [1,2], 2 for
// [[1],[2]], 1 for [] (an empty list gives no more information).
int JsonNestingDepth(simdjson::dom::element data);

// The shape of rectangular nested arrays ([] for a scalar). InvalidArgument
// "<where>: ..." when lists are ragged or mix lists with values.
absl::StatusOr<Shape> JsonNestedShape(simdjson::dom::element data, absl::string_view where);

// Appends `tensor`'s elements as JSON: one flat array when `nested` is false;
// otherwise arrays nested by shape()[skip_dims:] (a bare value when no dims
// remain). Floats use the shortest round-trip form, FP16/BF16 via float,
// BOOL as true/false, BYTES as escaped strings (see json_writer.h). Elements
// that a malformed tensor's buffer does not hold are written as null, so the
// output is valid JSON whatever the input.
void AppendTensorJson(const Tensor& tensor, bool nested, size_t skip_dims, std::string* out);

// A cheap upper-bound guess of AppendTensorJson's output size, for reserve().
size_t EstimateTensorJsonSize(const Tensor& tensor);

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_TENSOR_JSON_H_
