// The seed's simple API: POST /predict {"data": [...]} -> {"prediction": [...]}
// <-> InferenceRequest/InferenceResponse for a model with one input.
//
//   PredictInputSpec spec{"INPUT__0", DataType::kFp32, {784}, /*batched=*/true};
//   ASSIGN_OR_RETURN(PredictRequest decoded, DecodePredictRequest(body, spec));
//   ... run decoded.request ...
//   std::string json = EncodePredictResponse(response, decoded.single_example);
//
// Request: {"data": <value>, "id"?: "<string>"}; other keys are ignored.
// With r = spec.dims.size(), the nesting depth of "data" (following first
// elements: 0 for a scalar, 1 for a flat list, ...) decides what it is:
//   depth r             one example, nested as dims (r=0: a bare scalar)
//   depth r+1           a batch of such examples (batched models only)
//   depth 1, r > 1      one example as a flat list, reshaped to dims
//   depth 2, r > 2      a batch of examples, each a flat list
// Anything else is an error. Nested lists must be rectangular. A -1 in dims
// takes its size from the data; a flat list can resolve at most one -1.
// Elements follow the KServe rules (tensor_json.h): numbers in range for
// integer types, true/false for BOOL, strings for BYTES.
//
// Performance: give the body string a capacity of at least size() + 64
// (simdjson::SIMDJSON_PADDING) and the JSON is parsed in place; otherwise the
// JSON part is copied once into the parser's padded buffer.
//
// Thread-safety: all functions are thread-safe.
#ifndef PTSERVE_PROTOCOL_PREDICT_CODEC_H_
#define PTSERVE_PROTOCOL_PREDICT_CODEC_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/data_type.h"
#include "core/inference.h"
#include "core/tensor.h"
#include "protocol/decode_limits.h"

namespace ptserve {

// The model input that /predict feeds.
struct PredictInputSpec {
  std::string name;
  DataType dtype = DataType::kFp32;
  Shape dims;            // per-example dims (no batch dim); -1 = variable
  bool batched = false;  // the model has a batch dim (max_batch_size > 0)
};

struct PredictRequest {
  // One input named spec.name, shape [n, dims...] when spec.batched (n = 1 for
  // a single example), else [dims...]; -1s resolved. The data is copied into
  // a buffer the tensor owns. model_name/model_version are left empty.
  InferenceRequest request;
  // The client sent one example (not a list of examples): the response drops
  // the batch dim again.
  bool single_example = true;
};

// Errors are InvalidArgument naming the problem ("\"data\" is missing", the
// element count against the expected dims, a non-numeric element, ragged
// nesting, a batch sent to a model without a batch dim, ...).
absl::StatusOr<PredictRequest> DecodePredictRequest(std::shared_ptr<const std::string> body,
                                                    const PredictInputSpec& spec,
                                                    const DecodeLimits& limits = {});

// {"prediction":<first output>,"model_name":..,"model_version":..
//  [,"id":..][,"outputs":{"<name>":<output>,...}]}
// Each output is written as nested lists following its shape; when
// `single_example` and the leading dim is 1, that dim is dropped. "outputs"
// (every output by name) appears only when there are several outputs;
// "prediction" is null when there are none. Numbers and strings are written
// as json_writer.h documents.
std::string EncodePredictResponse(const InferenceResponse& response, bool single_example);

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_PREDICT_CODEC_H_
