// DataType: the tensor element types ptserve understands, named as KServe v2
// names them ("FP32"), with Triton config names ("TYPE_FP32") as aliases.
//
//   DataType t = DataTypeFromName("FP32").value();   // DataType::kFp32
//   DataTypeSize(t) == 4;  DataTypeName(t) == "FP32";
#ifndef PTSERVE_CORE_DATA_TYPE_H_
#define PTSERVE_CORE_DATA_TYPE_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace ptserve {

enum class DataType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kBf16,
  kFp32,
  kFp64,
  kBytes,  // variable length: 4-byte little-endian length + bytes per element
};

inline constexpr DataType kAllDataTypes[] = {
    DataType::kBool,  DataType::kUint8, DataType::kUint16, DataType::kUint32,
    DataType::kUint64, DataType::kInt8, DataType::kInt16,  DataType::kInt32,
    DataType::kInt64, DataType::kFp16,  DataType::kBf16,   DataType::kFp32,
    DataType::kFp64,  DataType::kBytes};

// KServe v2 name: "BOOL", "UINT8", ..., "FP32", "BYTES".
std::string_view DataTypeName(DataType type);

// Parses a KServe v2 name ("FP32"). Case-sensitive, as the protocol is.
std::optional<DataType> DataTypeFromName(std::string_view name);

// Parses a Triton config name ("TYPE_FP32"; "TYPE_STRING" is BYTES).
std::optional<DataType> DataTypeFromConfigName(std::string_view name);
std::string_view DataTypeConfigName(DataType type);

// Bytes per element; 0 for kBytes (variable length).
size_t DataTypeSize(DataType type);

}  // namespace ptserve

#endif  // PTSERVE_CORE_DATA_TYPE_H_
