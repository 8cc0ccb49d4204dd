#include "protocol/predict_codec.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "protocol/json_reader.h"
#include "protocol/json_writer.h"
#include "protocol/tensor_json.h"

namespace ptserve {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Resolves `dims` (at most one -1) for a flat example of `length` elements.
absl::StatusOr<Shape> ResolveFlat(const Shape& dims, int64_t length, absl::string_view where) {
  Shape resolved = dims;
  int unknown = -1;
  int64_t known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (unknown >= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, " has dims ", ShapeToString(dims),
            " with more than one -1, which a flat list cannot resolve; send nested data"));
      }
      unknown = static_cast<int>(i);
    } else if (dims[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " has invalid dims ", ShapeToString(dims)));
    } else if (dims[i] != 0 && known > INT64_MAX / dims[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " dims ", ShapeToString(dims), " have too many elements"));
    } else {
      known *= dims[i];
    }
  }
  if (unknown < 0) {
    if (length != known) {
      return absl::InvalidArgumentError(absl::StrCat("data has ", length, " elements but ", where,
                                                     " with dims ", ShapeToString(dims), " takes ",
                                                     known));
    }
    return resolved;
  }
  if (known == 0 || length % known != 0) {
    return absl::InvalidArgumentError(absl::StrCat("data has ", length,
                                                   " elements, which does not fit ", where,
                                                   " with dims ", ShapeToString(dims)));
  }
  resolved[unknown] = length / known;
  return resolved;
}

// Checks a nested example shape against dims (-1 matches anything).
absl::Status MatchDims(const Shape& dims, const Shape& example, absl::string_view where) {
  bool match = dims.size() == example.size();
  for (size_t i = 0; match && i < dims.size(); ++i) {
    match = dims[i] == -1 || dims[i] == example[i];
  }
  if (!match) {
    return absl::InvalidArgumentError(absl::StrCat("data has shape ", ShapeToString(example),
                                                   " per example but ", where, " takes ",
                                                   ShapeToString(dims)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PredictRequest> DecodePredictRequest(std::shared_ptr<const std::string> body,
                                                    const PredictInputSpec& spec,
                                                    const DecodeLimits& limits) {
  if (body == nullptr) return absl::InvalidArgumentError("request has no body");
  ASSIGN_OR_RETURN(element root, ParseJson(*body, body->capacity()));
  object request_json;
  if (root.get_object().get(request_json) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("request must be a JSON object like {\"data\": [...]}");
  }
  PredictRequest result;
  InferenceRequest& request = result.request;
  element id;
  if (request_json["id"].get(id) == simdjson::SUCCESS) {
    if (id.type() != element_type::STRING) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"id\" must be a string, got ", JsonSnippet(id)));
    }
    request.id = std::string(id.get_string().value_unsafe());
  }
  element data;
  if (request_json["data"].get(data) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("\"data\" is missing");
  }

  const std::string where = absl::StrCat("input '", spec.name, "'");
  const int rank = static_cast<int>(spec.dims.size());
  const int depth = JsonNestingDepth(data);
  Shape example;
  int64_t n = 1;
  if (depth == rank) {  // one nested example
    ASSIGN_OR_RETURN(example, JsonNestedShape(data, "data"));
    RETURN_IF_ERROR(MatchDims(spec.dims, example, where));
  } else if (depth == rank + 1) {  // a batch of nested examples
    ASSIGN_OR_RETURN(Shape full, JsonNestedShape(data, "data"));
    n = full[0];
    example.assign(full.begin() + 1, full.end());
    // An empty batch says nothing about the example dims.
    if (n == 0) example = spec.dims;
    for (int64_t& d : example) d = d == -1 ? 0 : d;
    if (n != 0) RETURN_IF_ERROR(MatchDims(spec.dims, example, where));
    result.single_example = false;
  } else if (depth == 1 && rank > 1) {  // one flat example
    ASSIGN_OR_RETURN(Shape full, JsonNestedShape(data, "data"));
    ASSIGN_OR_RETURN(example, ResolveFlat(spec.dims, full[0], where));
  } else if (depth == 2 && rank > 2) {  // a batch of flat examples
    ASSIGN_OR_RETURN(Shape full, JsonNestedShape(data, "data"));
    n = full[0];
    ASSIGN_OR_RETURN(example, ResolveFlat(spec.dims, full[1], where));
    result.single_example = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("data is nested ", depth, " deep but ", where, " with dims ",
                     ShapeToString(spec.dims), " takes data nested ", rank, " deep (one example)",
                     spec.batched ? absl::StrCat(", ", rank + 1, " deep (a batch)") : "",
                     rank > 1 ? ", or a flat list" : ""));
  }
  if (!result.single_example && !spec.batched) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " has no batch dimension (max_batch_size 0): send one example, not a list of them"));
  }

  Shape shape;
  if (spec.batched) shape.push_back(n);
  shape.insert(shape.end(), example.begin(), example.end());
  absl::StatusOr<int64_t> count = ElementCount(shape, limits.max_elements);
  if (!count.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": shape ", ShapeToString(shape),
                                                   " has more than ", limits.max_elements,
                                                   " elements"));
  }
  // JsonNestedShape/ResolveFlat have established that the leaves fill the
  // shape exactly.
  std::string buffer;
  RETURN_IF_ERROR(AppendJsonData(data, spec.dtype, *count, where, &buffer));
  request.inputs.push_back(
      NamedTensor{spec.name, Tensor::FromBytes(spec.dtype, std::move(shape), std::move(buffer))});
  return result;
}

std::string EncodePredictResponse(const InferenceResponse& response, bool single_example) {
  size_t estimate =
      128 + response.model_name.size() + response.model_version.size() + response.id.size();
  for (const NamedTensor& output : response.outputs) {
    estimate += 2 * (EstimateTensorJsonSize(output.tensor) + output.name.size() + 8);
  }
  std::string out;
  out.reserve(estimate);
  auto append_output = [&](const Tensor& tensor) {
    const bool drop = single_example && !tensor.shape().empty() && tensor.shape()[0] == 1;
    AppendTensorJson(tensor, /*nested=*/true, drop ? 1 : 0, &out);
  };
  out.append("{\"prediction\":");
  if (response.outputs.empty()) {
    out.append("null");
  } else {
    append_output(response.outputs[0].tensor);
  }
  out.append(",\"model_name\":");
  AppendJsonString(&out, response.model_name);
  out.append(",\"model_version\":");
  AppendJsonString(&out, response.model_version);
  if (!response.id.empty()) {
    out.append(",\"id\":");
    AppendJsonString(&out, response.id);
  }
  if (response.outputs.size() > 1) {
    out.append(",\"outputs\":{");
    for (size_t i = 0; i < response.outputs.size(); ++i) {
      if (i != 0) out.push_back(',');
      AppendJsonString(&out, response.outputs[i].name);
      out.push_back(':');
      append_output(response.outputs[i].tensor);
    }
    out.push_back('}');
  }
  out.push_back('}');
  return out;
}

}  // namespace ptserve
