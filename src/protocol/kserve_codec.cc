#include "protocol/kserve_codec.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "protocol/json_reader.h"
#include "protocol/json_writer.h"
#include "protocol/tensor_json.h"

namespace ptserve {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

absl::Status Invalid(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

// The field `key` of `obj`, or nullopt when absent.
std::optional<element> Field(object obj, std::string_view key) {
  element value;
  if (obj[key].get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

absl::StatusOr<object> AsObject(element e, absl::string_view what) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be a JSON object"));
  }
  return obj;
}

// A non-negative JSON integer (INT64 or UINT64 element types).
std::optional<uint64_t> NonNegativeInteger(element e) {
  if (e.type() == element_type::INT64) {
    const int64_t v = e.get_int64().value_unsafe();
    if (v < 0) return std::nullopt;
    return static_cast<uint64_t>(v);
  }
  if (e.type() == element_type::UINT64) return e.get_uint64().value_unsafe();
  return std::nullopt;
}

absl::Status ReadRequestParameters(element e, InferenceRequest* request) {
  ASSIGN_OR_RETURN(object params, AsObject(e, "\"parameters\""));
  if (auto timeout = Field(params, "timeout")) {
    std::optional<uint64_t> v = NonNegativeInteger(*timeout);
    if (!v) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter 'timeout' must be a non-negative integer (microseconds), got ",
                       JsonSnippet(*timeout)));
    }
    // Larger than int64 saturates: a huge timeout is "no timeout earlier than the model's".
    request->timeout_us = static_cast<int64_t>(std::min<uint64_t>(*v, INT64_MAX));
  }
  if (auto priority = Field(params, "priority")) {
    std::optional<uint64_t> v = NonNegativeInteger(*priority);
    if (!v || *v > static_cast<uint64_t>(INT_MAX)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter 'priority' must be a non-negative integer, got ", JsonSnippet(*priority)));
    }
    request->priority = static_cast<int>(*v);
  }
  if (auto binary = Field(params, "binary_data_output")) {
    if (binary->type() != element_type::BOOL) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter 'binary_data_output' must be true or false, got ", JsonSnippet(*binary)));
    }
    request->binary_data_output = binary->get_bool().value_unsafe();
  }
  return absl::OkStatus();
}

absl::StatusOr<Shape> ReadShape(element e, absl::string_view where) {
  array dims;
  if (e.get_array().get(dims) != simdjson::SUCCESS) {
    return Invalid(where,
                   absl::StrCat("\"shape\" must be an array of integers, got ", JsonSnippet(e)));
  }
  Shape shape;
  for (element dim : dims) {
    if (dim.type() == element_type::INT64) {
      const int64_t v = dim.get_int64().value_unsafe();
      if (v < 0) {
        return Invalid(where, absl::StrCat("shape ", JsonSnippet(e), " has a negative dimension"));
      }
      shape.push_back(v);
    } else if (dim.type() == element_type::UINT64) {
      return Invalid(where, absl::StrCat("shape ", JsonSnippet(e), " has too many elements"));
    } else {
      return Invalid(where,
                     absl::StrCat("\"shape\" must be an array of integers, got ", JsonSnippet(e)));
    }
  }
  return shape;
}

// Checks that `data` (binary) holds exactly `count` serialized BYTES elements.
absl::Status CheckSerializedBytes(const uint8_t* data, size_t size, int64_t count,
                                  absl::string_view where) {
  size_t pos = 0;
  int64_t n = 0;
  while (pos < size) {
    if (size - pos < 4) {
      return Invalid(where,
                     absl::StrCat("binary BYTES data is truncated in the length of element ", n));
    }
    uint32_t len;
    std::memcpy(&len, data + pos, 4);
    pos += 4;
    if (size - pos < len) {
      return Invalid(where, absl::StrCat("binary BYTES element ", n, " has length ", len,
                                         " but only ", size - pos, " bytes remain"));
    }
    pos += len;
    ++n;
  }
  if (n != count) {
    return Invalid(
        where, absl::StrCat("binary BYTES data has ", n, " elements but the shape has ", count));
  }
  return absl::OkStatus();
}

struct InputReader {
  const std::shared_ptr<const std::string>& body;
  const DecodeLimits& limits;
  size_t binary_offset;  // next unclaimed byte of the binary section
};

absl::StatusOr<NamedTensor> ReadInput(element e, size_t index, InputReader* reader) {
  const std::string index_where = absl::StrCat("inputs[", index, "]");
  ASSIGN_OR_RETURN(object input, AsObject(e, index_where));

  NamedTensor named;
  std::optional<element> name = Field(input, "name");
  if (!name || name->type() != element_type::STRING) {
    return Invalid(index_where, "\"name\" is missing or not a string");
  }
  named.name = std::string(name->get_string().value_unsafe());
  const std::string where = absl::StrCat("input '", named.name, "'");

  std::optional<element> datatype = Field(input, "datatype");
  if (!datatype || datatype->type() != element_type::STRING) {
    return Invalid(where, "\"datatype\" is missing or not a string");
  }
  const std::string_view type_name_std = datatype->get_string().value_unsafe();
  const absl::string_view type_name(type_name_std.data(), type_name_std.size());
  std::optional<DataType> dtype = DataTypeFromName(type_name_std);
  if (!dtype) {
    return Invalid(where, absl::StrCat("datatype '", type_name, "' is not a KServe datatype"));
  }

  std::optional<element> shape_json = Field(input, "shape");
  if (!shape_json) return Invalid(where, "\"shape\" is missing");
  ASSIGN_OR_RETURN(Shape shape, ReadShape(*shape_json, where));
  absl::StatusOr<int64_t> count = ElementCount(shape, reader->limits.max_elements);
  if (!count.ok()) {
    return Invalid(where, absl::StrCat("shape ", ShapeToString(shape), " has more than ",
                                       reader->limits.max_elements, " elements"));
  }

  std::optional<uint64_t> binary_size;
  if (auto params_json = Field(input, "parameters")) {
    ASSIGN_OR_RETURN(object params,
                     AsObject(*params_json, absl::StrCat(where, ": \"parameters\"")));
    if (auto size_json = Field(params, "binary_data_size")) {
      binary_size = NonNegativeInteger(*size_json);
      if (!binary_size) {
        return Invalid(where, absl::StrCat("binary_data_size must be a non-negative integer, got ",
                                           JsonSnippet(*size_json)));
      }
    }
  }
  std::optional<element> data = Field(input, "data");

  if (binary_size) {
    if (data) return Invalid(where, "has both \"data\" and binary_data_size");
    const size_t remaining = reader->body->size() - reader->binary_offset;
    if (*binary_size > remaining) {
      return absl::InvalidArgumentError(absl::StrCat("binary_data_size of input '", named.name,
                                                     "' is ", *binary_size, " but only ", remaining,
                                                     " bytes remain"));
    }
    const auto* bytes =
        reinterpret_cast<const uint8_t*>(reader->body->data()) + reader->binary_offset;
    const size_t size = static_cast<size_t>(*binary_size);
    if (*dtype == DataType::kBytes) {
      RETURN_IF_ERROR(CheckSerializedBytes(bytes, size, *count, where));
    } else {
      const uint64_t expected = static_cast<uint64_t>(*count) * DataTypeSize(*dtype);
      if (size != expected) {
        return Invalid(
            where, absl::StrCat("binary_data_size is ", size, " but shape ", ShapeToString(shape),
                                " of ", type_name, " needs ", expected, " bytes"));
      }
    }
    reader->binary_offset += size;
    named.tensor = Tensor::View(*dtype, std::move(shape), reader->body, bytes, size);
    return named;
  }

  if (!data) return Invalid(where, "has neither \"data\" nor binary_data_size");
  const int64_t leaves = CountJsonLeaves(*data);
  if (leaves != *count) {
    return Invalid(where, absl::StrCat("shape ", ShapeToString(shape), " has ", *count,
                                       " elements but data has ", leaves));
  }
  std::string buffer;
  RETURN_IF_ERROR(AppendJsonData(*data, *dtype, *count, where, &buffer));
  named.tensor = Tensor::FromBytes(*dtype, std::move(shape), std::move(buffer));
  return named;
}

absl::StatusOr<RequestedOutput> ReadOutput(element e, size_t index) {
  const std::string index_where = absl::StrCat("outputs[", index, "]");
  ASSIGN_OR_RETURN(object output, AsObject(e, index_where));
  std::optional<element> name = Field(output, "name");
  if (!name || name->type() != element_type::STRING) {
    return Invalid(index_where, "\"name\" is missing or not a string");
  }
  RequestedOutput requested;
  requested.name = std::string(name->get_string().value_unsafe());
  if (auto params_json = Field(output, "parameters")) {
    ASSIGN_OR_RETURN(object params, AsObject(*params_json, absl::StrCat("output '", requested.name,
                                                                        "': \"parameters\"")));
    if (auto binary = Field(params, "binary_data")) {
      if (binary->type() != element_type::BOOL) {
        return absl::InvalidArgumentError(absl::StrCat("output '", requested.name,
                                                       "': binary_data must be true or false, got ",
                                                       JsonSnippet(*binary)));
      }
      requested.binary = binary->get_bool().value_unsafe();
    }
  }
  return requested;
}

void AppendOutputJson(const NamedTensor& output, bool binary, std::string* out) {
  out->append("{\"name\":");
  AppendJsonString(out, output.name);
  out->append(",\"datatype\":\"");
  out->append(DataTypeName(output.tensor.dtype()));
  out->append("\",\"shape\":[");
  const Shape& shape = output.tensor.shape();
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out->push_back(',');
    AppendJsonInt(out, shape[i]);
  }
  out->push_back(']');
  if (binary) {
    out->append(",\"parameters\":{\"binary_data_size\":");
    AppendJsonUint(out, output.tensor.byte_size());
    out->append("}}");
  } else {
    out->append(",\"data\":");
    AppendTensorJson(output.tensor, /*nested=*/false, 0, out);
    out->push_back('}');
  }
}

}  // namespace

absl::StatusOr<InferenceRequest> DecodeKServeRequest(std::shared_ptr<const std::string> body,
                                                     std::optional<size_t> json_header_length,
                                                     const DecodeLimits& limits) {
  if (body == nullptr) return absl::InvalidArgumentError("request has no body");
  size_t json_size = body->size();
  if (json_header_length) {
    if (*json_header_length > body->size()) {
      return absl::InvalidArgumentError(absl::StrCat("Inference-Header-Content-Length is ",
                                                     *json_header_length, " but the body has only ",
                                                     body->size(), " bytes"));
    }
    json_size = *json_header_length;
  }
  ASSIGN_OR_RETURN(element root,
                   ParseJson(std::string_view(body->data(), json_size), body->capacity()));
  ASSIGN_OR_RETURN(object request_json, AsObject(root, "request"));

  InferenceRequest request;
  if (auto id = Field(request_json, "id")) {
    if (id->type() != element_type::STRING) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"id\" must be a string, got ", JsonSnippet(*id)));
    }
    request.id = std::string(id->get_string().value_unsafe());
  }
  if (auto params = Field(request_json, "parameters")) {
    RETURN_IF_ERROR(ReadRequestParameters(*params, &request));
  }

  std::optional<element> inputs_json = Field(request_json, "inputs");
  if (!inputs_json) return absl::InvalidArgumentError("\"inputs\" is missing");
  array inputs;
  if (inputs_json->get_array().get(inputs) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("\"inputs\" must be an array");
  }
  InputReader reader{body, limits, json_size};
  absl::flat_hash_set<std::string> names;
  size_t index = 0;
  for (element input_json : inputs) {
    ASSIGN_OR_RETURN(NamedTensor input, ReadInput(input_json, index++, &reader));
    request.inputs.push_back(std::move(input));
    if (!names.insert(request.inputs.back().name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate input name '", request.inputs.back().name, "'"));
    }
  }
  if (reader.binary_offset != body->size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        body->size() - reader.binary_offset,
        " bytes of binary data after the JSON are not claimed by any input's binary_data_size"));
  }

  if (auto outputs_json = Field(request_json, "outputs")) {
    array outputs;
    if (outputs_json->get_array().get(outputs) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("\"outputs\" must be an array");
    }
    names.clear();
    index = 0;
    for (element output_json : outputs) {
      ASSIGN_OR_RETURN(RequestedOutput output, ReadOutput(output_json, index++));
      request.outputs.push_back(std::move(output));
      if (!names.insert(request.outputs.back().name).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("duplicate output name '", request.outputs.back().name, "'"));
      }
    }
  }
  return request;
}

EncodedResponse EncodeKServeResponse(const InferenceResponse& response) {
  auto is_binary = [&](size_t i) { return i < response.binary.size() && response.binary[i]; };
  size_t json_estimate =
      160 + response.model_name.size() + response.model_version.size() + response.id.size();
  size_t binary_size = 0;
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    const Tensor& tensor = response.outputs[i].tensor;
    json_estimate += 96 + response.outputs[i].name.size() + 21 * tensor.shape().size();
    if (is_binary(i)) {
      binary_size += tensor.byte_size();
    } else {
      json_estimate += EstimateTensorJsonSize(tensor);
    }
  }

  EncodedResponse encoded;
  std::string& out = encoded.body;
  out.reserve(json_estimate + binary_size);
  out.append("{\"model_name\":");
  AppendJsonString(&out, response.model_name);
  out.append(",\"model_version\":");
  AppendJsonString(&out, response.model_version);
  if (!response.id.empty()) {
    out.append(",\"id\":");
    AppendJsonString(&out, response.id);
  }
  out.append(",\"parameters\":{\"queue_time_us\":");
  AppendJsonInt(&out, response.timing.queue_us);
  out.append(",\"compute_time_us\":");
  AppendJsonInt(&out, response.timing.compute_us);
  out.append(",\"batch_size\":");
  AppendJsonInt(&out, response.timing.batch_size);
  out.append("},\"outputs\":[");
  bool any_binary = false;
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    if (i != 0) out.push_back(',');
    AppendOutputJson(response.outputs[i], is_binary(i), &out);
    any_binary |= is_binary(i);
  }
  out.append("]}");
  if (any_binary) {
    encoded.json_header_length = out.size();
    for (size_t i = 0; i < response.outputs.size(); ++i) {
      if (!is_binary(i)) continue;
      const Tensor& tensor = response.outputs[i].tensor;
      if (tensor.data() != nullptr) {
        out.append(reinterpret_cast<const char*>(tensor.data()), tensor.byte_size());
      }
    }
  }
  return encoded;
}

}  // namespace ptserve
