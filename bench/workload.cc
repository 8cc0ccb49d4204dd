#include "workload.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <string_view>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/half.h"
#include "core/json_string.h"
#include "core/status_macros.h"
#include "simdjson.h"

namespace ptserve::bench {
namespace {

// Abseil here has its own string_view; DataTypeName and simdjson give std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

template <typename T>
void AppendRaw(T v, std::string* out) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // x86/ARM little-endian, the wire order
  out->append(buf, sizeof(T));
}

template <typename T>
T ReadRaw(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Appends one element of type `t` holding `d` (or `i` when `is_int`, to keep int64 exact).
void AppendNumber(DataType t, double d, int64_t i, bool is_int, std::string* out) {
  if (!is_int) i = static_cast<int64_t>(d);
  if (is_int) d = static_cast<double>(i);
  switch (t) {
    case DataType::kBool: AppendRaw<uint8_t>(d != 0 ? 1 : 0, out); break;
    case DataType::kUint8: AppendRaw(static_cast<uint8_t>(i), out); break;
    case DataType::kUint16: AppendRaw(static_cast<uint16_t>(i), out); break;
    case DataType::kUint32: AppendRaw(static_cast<uint32_t>(i), out); break;
    case DataType::kUint64: AppendRaw(static_cast<uint64_t>(i), out); break;
    case DataType::kInt8: AppendRaw(static_cast<int8_t>(i), out); break;
    case DataType::kInt16: AppendRaw(static_cast<int16_t>(i), out); break;
    case DataType::kInt32: AppendRaw(static_cast<int32_t>(i), out); break;
    case DataType::kInt64: AppendRaw(i, out); break;
    case DataType::kFp16: AppendRaw(FloatToHalf(static_cast<float>(d)), out); break;
    case DataType::kBf16: AppendRaw(FloatToBf16(static_cast<float>(d)), out); break;
    case DataType::kFp32: AppendRaw(static_cast<float>(d), out); break;
    case DataType::kFp64: AppendRaw(d, out); break;
    case DataType::kBytes: {
      std::string s = std::to_string(i);
      AppendRaw(static_cast<uint32_t>(s.size()), out);
      out->append(s.data(), s.size());
      break;
    }
  }
}

void AppendBytesElement(absl::string_view s, std::string* out) {
  AppendRaw(static_cast<uint32_t>(s.size()), out);
  out->append(s.data(), s.size());
}

template <typename T>
void AppendChars(T v, std::string* out) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, ptr);
}

std::string ShapeJson(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

std::string ShapeText(const std::vector<int64_t>& shape) { return ShapeJson(shape); }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open input data file '", path, "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Flattens a (possibly nested) JSON array into `out` as elements of `t`, recording the nesting
// as `shape` (from the first element at each depth).
absl::Status FlattenJson(simdjson::dom::element el, DataType t, size_t depth,
                         std::vector<int64_t>* shape, std::string* out) {
  using simdjson::dom::element_type;
  switch (el.type()) {
    case element_type::ARRAY: {
      simdjson::dom::array arr = el.get_array().value_unsafe();
      if (shape->size() == depth) shape->push_back(static_cast<int64_t>(arr.size()));
      for (simdjson::dom::element child : arr) {
        RETURN_IF_ERROR(FlattenJson(child, t, depth + 1, shape, out));
      }
      return absl::OkStatus();
    }
    case element_type::INT64:
      AppendNumber(t, 0, el.get_int64().value_unsafe(), true, out);
      return absl::OkStatus();
    case element_type::UINT64:
      AppendNumber(t, 0, static_cast<int64_t>(el.get_uint64().value_unsafe()), true, out);
      return absl::OkStatus();
    case element_type::DOUBLE:
      AppendNumber(t, el.get_double().value_unsafe(), 0, false, out);
      return absl::OkStatus();
    case element_type::BOOL:
      AppendNumber(t, el.get_bool().value_unsafe() ? 1 : 0, 0, false, out);
      return absl::OkStatus();
    case element_type::STRING:
      if (t != DataType::kBytes) return absl::InvalidArgumentError("string data for a non-BYTES input");
      AppendBytesElement(Sv(el.get_string().value_unsafe()), out);
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError("input data must be numbers, booleans or strings");
  }
}

absl::StatusOr<std::vector<int64_t>> ConcreteShape(const TensorMeta& meta,
                                                   const WorkloadOptions& options) {
  std::vector<int64_t> shape = meta.shape;
  if (auto it = options.shapes.find(meta.name); it != options.shapes.end()) {
    const std::vector<int64_t>& given = it->second;
    if (shape.empty() || given.size() == shape.size()) {
      shape = given;
    } else if (given.size() + 1 == shape.size()) {
      std::copy(given.begin(), given.end(), shape.begin() + 1);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--shape ", meta.name, ":", absl::StrJoin(given, ","), " has rank ",
                       given.size(), " but the model's input has shape ", ShapeText(meta.shape)));
    }
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] >= 0) continue;
    if (d == 0) {
      shape[d] = options.batch_size;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", meta.name, "' has variable dimension ", d, " (shape ", ShapeText(meta.shape),
          "); give it with --shape ", meta.name, ":d1,d2,..."));
    }
  }
  return shape;
}

}  // namespace

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<ModelMetadata> ParseModelMetadata(absl::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json.data(), json.size());
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err) {
    return absl::InvalidArgumentError(
        absl::StrCat("model metadata is not JSON: ", simdjson::error_message(err)));
  }
  ModelMetadata md;
  std::string_view name;
  if (!doc["name"].get_string().get(name)) md.name = std::string(name);
  simdjson::dom::array inputs;
  if (doc["inputs"].get_array().get(inputs)) {
    return absl::InvalidArgumentError("model metadata has no \"inputs\" array");
  }
  for (simdjson::dom::element in : inputs) {
    TensorMeta meta;
    std::string_view s;
    if (in["name"].get_string().get(s)) {
      return absl::InvalidArgumentError("model metadata input without \"name\"");
    }
    meta.name = std::string(s);
    if (in["datatype"].get_string().get(s)) {
      return absl::InvalidArgumentError(absl::StrCat("input '", meta.name, "' has no datatype"));
    }
    auto dt = DataTypeFromName(s);
    if (!dt) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", meta.name, "' has unknown datatype '", Sv(s), "'"));
    }
    meta.datatype = *dt;
    simdjson::dom::array shape;
    if (in["shape"].get_array().get(shape)) {
      return absl::InvalidArgumentError(absl::StrCat("input '", meta.name, "' has no shape"));
    }
    for (simdjson::dom::element d : shape) {
      int64_t v;
      if (d.get_int64().get(v)) {
        return absl::InvalidArgumentError(absl::StrCat("input '", meta.name, "': bad shape"));
      }
      meta.shape.push_back(v);
    }
    md.inputs.push_back(std::move(meta));
  }
  return md;
}

absl::StatusOr<ModelMetadata> FetchModelMetadata(const Endpoint& endpoint,
                                                 const std::string& model_name,
                                                 const std::string& model_version) {
  std::string path = absl::StrCat("/v2/models/", model_name);
  if (!model_version.empty()) absl::StrAppend(&path, "/versions/", model_version);
  ASSIGN_OR_RETURN(FetchResult r, Fetch(endpoint, "GET", path, "", ""));
  if (r.status != 200) {
    return absl::FailedPreconditionError(absl::StrCat("GET ", path, " answered ", r.status, ": ",
                                                      r.body.substr(0, 200)));
  }
  return ParseModelMetadata(r.body);
}

absl::Status ParseShapeFlag(absl::string_view flag,
                            std::map<std::string, std::vector<int64_t>>* shapes) {
  size_t colon = flag.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shape must be name:d1,d2,..., got '", flag, "'"));
  }
  std::vector<int64_t> dims;
  for (absl::string_view part : absl::StrSplit(flag.substr(colon + 1), ',')) {
    int64_t d;
    if (!absl::SimpleAtoi(part, &d) || d < 0) {
      return absl::InvalidArgumentError(absl::StrCat("--shape '", flag, "': bad dimension '", part, "'"));
    }
    dims.push_back(d);
  }
  (*shapes)[std::string(flag.substr(0, colon))] = std::move(dims);
  return absl::OkStatus();
}

absl::StatusOr<InputTensor> LoadNpy(absl::string_view c, std::string name) {
  if (c.size() < 10 || c.substr(0, 6) != absl::string_view("\x93NUMPY", 6)) {
    return absl::InvalidArgumentError("not an .npy file (bad magic)");
  }
  const int major = static_cast<unsigned char>(c[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(c[8]) | (static_cast<unsigned char>(c[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (c.size() < 12) return absl::InvalidArgumentError("truncated .npy header");
    header_len = ReadRaw<uint32_t>(c.data() + 8);
    header_start = 12;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(".npy version ", major, " not supported"));
  }
  if (c.size() < header_start + header_len) return absl::InvalidArgumentError("truncated .npy header");
  absl::string_view header = c.substr(header_start, header_len);
  auto value_after = [&](absl::string_view key) -> absl::string_view {
    size_t p = header.find(key);
    if (p == absl::string_view::npos) return {};
    p = header.find(':', p + key.size());
    if (p == absl::string_view::npos) return {};
    return absl::StripLeadingAsciiWhitespace(header.substr(p + 1));
  };
  absl::string_view descr = value_after("'descr'");
  if (descr.size() < 2 || (descr[0] != '\'' && descr[0] != '"')) {
    return absl::InvalidArgumentError("npy header has no descr");
  }
  descr = descr.substr(1, descr.find(descr[0], 1) - 1);
  if (absl::StartsWith(value_after("'fortran_order'"), "True")) {
    return absl::InvalidArgumentError(".npy in Fortran order is not supported; save it C-ordered");
  }
  absl::string_view shape_text = value_after("'shape'");
  if (shape_text.empty() || shape_text[0] != '(') return absl::InvalidArgumentError("npy header has no shape");
  shape_text = shape_text.substr(1, shape_text.find(')') - 1);
  InputTensor t;
  t.meta.name = std::move(name);
  for (absl::string_view part : absl::StrSplit(shape_text, ',', absl::SkipWhitespace())) {
    int64_t d;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &d)) {
      return absl::InvalidArgumentError(absl::StrCat("bad .npy shape '", shape_text, "'"));
    }
    t.meta.shape.push_back(d);
  }
  char order = descr.empty() ? '?' : descr[0];
  absl::string_view code = (order == '<' || order == '|' || order == '=' || order == '>')
                              ? descr.substr(1) : descr;
  static const std::map<absl::string_view, DataType> kTypes = {
      {"f2", DataType::kFp16},  {"f4", DataType::kFp32},  {"f8", DataType::kFp64},
      {"i1", DataType::kInt8},  {"i2", DataType::kInt16}, {"i4", DataType::kInt32},
      {"i8", DataType::kInt64}, {"u1", DataType::kUint8}, {"u2", DataType::kUint16},
      {"u4", DataType::kUint32}, {"u8", DataType::kUint64}, {"b1", DataType::kBool}};
  auto it = kTypes.find(code);
  if (it == kTypes.end()) {
    return absl::InvalidArgumentError(absl::StrCat(".npy dtype '", descr, "' not supported"));
  }
  t.meta.datatype = it->second;
  if (order == '>' && DataTypeSize(t.meta.datatype) > 1) {
    return absl::InvalidArgumentError(".npy is big-endian; save it little-endian ('<')");
  }
  const size_t need = static_cast<size_t>(NumElements(t.meta.shape)) * DataTypeSize(t.meta.datatype);
  absl::string_view data = c.substr(header_start + header_len);
  if (data.size() != need) {
    return absl::InvalidArgumentError(absl::StrCat(".npy data has ", data.size(), " bytes, shape ",
                                                   ShapeText(t.meta.shape), " needs ", need));
  }
  t.bytes = std::string(data);
  return t;
}

absl::StatusOr<std::vector<InputTensor>> LoadJsonInputs(absl::string_view contents,
                                                        DataType data_type) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(contents.data(), contents.size());
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err) {
    return absl::InvalidArgumentError(
        absl::StrCat("input data is not JSON: ", simdjson::error_message(err)));
  }
  std::vector<InputTensor> out;
  simdjson::dom::element data;
  if (!doc["data"].get(data)) {  // the seed's {"data": [...]}
    InputTensor t;
    t.meta.name = "data";
    t.meta.datatype = data_type;
    RETURN_IF_ERROR(FlattenJson(data, t.meta.datatype, 0, &t.meta.shape, &t.bytes));
    out.push_back(std::move(t));
    return out;
  }
  simdjson::dom::array inputs;
  if (doc["inputs"].get_array().get(inputs)) {
    return absl::InvalidArgumentError(
        "input data JSON must be {\"data\":[...]} or a KServe request with \"inputs\"");
  }
  for (simdjson::dom::element in : inputs) {
    InputTensor t;
    std::string_view s;
    if (in["name"].get_string().get(s)) return absl::InvalidArgumentError("input without name");
    t.meta.name = std::string(s);
    if (in["datatype"].get_string().get(s) || !DataTypeFromName(s)) {
      return absl::InvalidArgumentError(absl::StrCat("input '", t.meta.name, "': bad datatype"));
    }
    t.meta.datatype = *DataTypeFromName(s);
    if (in["data"].get(data)) {
      return absl::InvalidArgumentError(absl::StrCat("input '", t.meta.name, "' has no data"));
    }
    std::vector<int64_t> nested;
    RETURN_IF_ERROR(FlattenJson(data, t.meta.datatype, 0, &nested, &t.bytes));
    simdjson::dom::array shape;
    if (!in["shape"].get_array().get(shape)) {
      for (simdjson::dom::element d : shape) {
        int64_t v;
        if (d.get_int64().get(v)) return absl::InvalidArgumentError("bad shape");
        t.meta.shape.push_back(v);
      }
    } else {
      t.meta.shape = nested;
    }
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<std::vector<InputTensor>> ResolveInputs(const ModelMetadata& metadata,
                                                       const WorkloadOptions& options) {
  const std::string& src = options.input_data;
  if (src != "zero" && src != "random") {
    ASSIGN_OR_RETURN(std::string contents, ReadFile(src));
    if (absl::EndsWithIgnoreCase(src, ".npy")) {
      if (metadata.inputs.size() > 1) {
        return absl::InvalidArgumentError(
            "an .npy file can only feed a single-input model; use a KServe JSON file");
      }
      std::string name = metadata.inputs.empty() ? "data" : metadata.inputs[0].name;
      ASSIGN_OR_RETURN(InputTensor t, LoadNpy(contents, name));
      if (!metadata.inputs.empty()) {
        const TensorMeta& m = metadata.inputs[0];
        if (m.datatype != t.meta.datatype) {
          return absl::InvalidArgumentError(
              absl::StrCat(src, " holds ", Sv(DataTypeName(t.meta.datatype)), " but input '", m.name,
                           "' is ", Sv(DataTypeName(m.datatype))));
        }
        if (m.shape.size() == t.meta.shape.size() + 1) t.meta.shape.insert(t.meta.shape.begin(), 1);
      }
      return std::vector<InputTensor>{std::move(t)};
    }
    const DataType data_type =
        metadata.inputs.size() == 1 ? metadata.inputs[0].datatype : DataType::kFp32;
    ASSIGN_OR_RETURN(std::vector<InputTensor> tensors, LoadJsonInputs(contents, data_type));
    if (tensors.size() == 1 && metadata.inputs.size() == 1 && tensors[0].meta.name == "data") {
      // {"data": [...]}: the model's one input, with its shape when the element count fits.
      const TensorMeta& m = metadata.inputs[0];
      tensors[0].meta.name = m.name;
      auto shape = ConcreteShape(m, options);
      if (shape.ok() && NumElements(*shape) == NumElements(tensors[0].meta.shape)) {
        tensors[0].meta.shape = *shape;
      }
    }
    return tensors;
  }
  if (metadata.inputs.empty()) {
    return absl::InvalidArgumentError("the model has no inputs to send");
  }
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> real(0.0, 1.0);
  std::uniform_int_distribution<int64_t> small_int(0, 9);
  std::vector<InputTensor> out;
  for (const TensorMeta& meta : metadata.inputs) {
    InputTensor t;
    t.meta = meta;
    ASSIGN_OR_RETURN(t.meta.shape, ConcreteShape(meta, options));
    const int64_t n = NumElements(t.meta.shape);
    const bool zero = src == "zero";
    const bool is_float = meta.datatype == DataType::kFp16 || meta.datatype == DataType::kBf16 ||
                          meta.datatype == DataType::kFp32 || meta.datatype == DataType::kFp64;
    t.bytes.reserve(static_cast<size_t>(n) * std::max<size_t>(DataTypeSize(meta.datatype), 4));
    for (int64_t i = 0; i < n; ++i) {
      if (meta.datatype == DataType::kBytes) {
        std::string s = zero ? "" : absl::StrCat("s", small_int(rng), small_int(rng));
        AppendBytesElement(s, &t.bytes);
      } else if (is_float) {
        AppendNumber(meta.datatype, zero ? 0.0 : real(rng), 0, false, &t.bytes);
      } else {
        AppendNumber(meta.datatype, 0, zero ? 0 : small_int(rng) % (meta.datatype == DataType::kBool ? 2 : 10), true, &t.bytes);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::string TensorDataJson(const InputTensor& tensor) {
  std::string out = "[";
  const char* p = tensor.bytes.data();
  const char* end = p + tensor.bytes.size();
  bool first = true;
  const size_t size = DataTypeSize(tensor.meta.datatype);
  while (p < end) {
    if (!first) out.push_back(',');
    first = false;
    switch (tensor.meta.datatype) {
      case DataType::kBool: out.append(*p ? "true" : "false"); break;
      case DataType::kUint8: AppendChars(ReadRaw<uint8_t>(p), &out); break;
      case DataType::kUint16: AppendChars(ReadRaw<uint16_t>(p), &out); break;
      case DataType::kUint32: AppendChars(ReadRaw<uint32_t>(p), &out); break;
      case DataType::kUint64: AppendChars(ReadRaw<uint64_t>(p), &out); break;
      case DataType::kInt8: AppendChars(ReadRaw<int8_t>(p), &out); break;
      case DataType::kInt16: AppendChars(ReadRaw<int16_t>(p), &out); break;
      case DataType::kInt32: AppendChars(ReadRaw<int32_t>(p), &out); break;
      case DataType::kInt64: AppendChars(ReadRaw<int64_t>(p), &out); break;
      case DataType::kFp16: AppendChars(HalfToFloat(ReadRaw<uint16_t>(p)), &out); break;
      case DataType::kBf16: AppendChars(Bf16ToFloat(ReadRaw<uint16_t>(p)), &out); break;
      case DataType::kFp32: AppendChars(ReadRaw<float>(p), &out); break;
      case DataType::kFp64: AppendChars(ReadRaw<double>(p), &out); break;
      case DataType::kBytes: {
        if (end - p < 4) return out + "]";
        uint32_t len = ReadRaw<uint32_t>(p);
        p += 4;
        if (static_cast<size_t>(end - p) < len) return out + "]";
        AppendJsonString(&out, std::string_view(p, len));
        p += len;
        continue;
      }
    }
    p += size;
  }
  out.push_back(']');
  return out;
}

absl::StatusOr<RequestSpec> BuildRequest(const std::vector<InputTensor>& inputs,
                                         const WorkloadOptions& options) {
  RequestSpec spec;
  if (options.api == ApiKind::kPredict) {
    if (inputs.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--endpoint predict sends one input; the model has ", inputs.size()));
    }
    if (options.binary) return absl::InvalidArgumentError("--binary needs --endpoint v2");
    spec.path = options.predict_path;
    spec.content_type = "application/json";
    spec.body = absl::StrCat("{\"data\":", TensorDataJson(inputs[0]), "}");
    return spec;
  }
  if (options.model_name.empty()) {
    return absl::InvalidArgumentError("--endpoint v2 needs a model name (-m)");
  }
  spec.path = absl::StrCat("/v2/models/", options.model_name);
  if (!options.model_version.empty()) absl::StrAppend(&spec.path, "/versions/", options.model_version);
  absl::StrAppend(&spec.path, "/infer");
  std::string json = "{\"inputs\":[";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputTensor& t = inputs[i];
    if (i > 0) json.push_back(',');
    json.append("{\"name\":");
    AppendJsonString(&json, t.meta.name);
    absl::StrAppend(&json, ",\"shape\":", ShapeJson(t.meta.shape), ",\"datatype\":\"",
                    Sv(DataTypeName(t.meta.datatype)), "\",");
    if (options.binary) {
      absl::StrAppend(&json, "\"parameters\":{\"binary_data_size\":", t.bytes.size(), "}}");
    } else {
      absl::StrAppend(&json, "\"data\":", TensorDataJson(t), "}");
    }
  }
  json.append("]");
  if (options.binary) json.append(",\"parameters\":{\"binary_data_output\":true}");
  json.append("}");
  if (options.binary) {
    spec.content_type = "application/octet-stream";
    spec.headers.emplace_back("Inference-Header-Content-Length", std::to_string(json.size()));
    spec.body = std::move(json);
    for (const InputTensor& t : inputs) spec.body.append(t.bytes);
  } else {
    spec.content_type = "application/json";
    spec.body = std::move(json);
  }
  return spec;
}

}  // namespace ptserve::bench
