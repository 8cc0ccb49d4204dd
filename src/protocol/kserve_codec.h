// KServe v2 / Open Inference Protocol REST codec: the body of
// POST /v2/models/{m}[/versions/{v}]/infer <-> InferenceRequest, and
// InferenceResponse -> response body. Pure: no sockets, no libtorch.
//
//   auto body = std::make_shared<const std::string>(std::move(http_body));
//   ASSIGN_OR_RETURN(InferenceRequest request,
//                    DecodeKServeRequest(body, header_length, DecodeLimits{}));
//   request.model_name = ...;  // from the URL
//   ...
//   EncodedResponse encoded = EncodeKServeResponse(response);
//   if (encoded.json_header_length) { /* Inference-Header-Content-Length */ }
//
// Binary tensor extension: with `json_header_length` (the value of the HTTP
// header Inference-Header-Content-Length) the JSON is the first N bytes of the
// body and the raw bytes of every input that has parameters.binary_data_size
// follow, in the order the JSON lists those inputs.
//
// Performance: give the body string a capacity of at least size() + 64
// (simdjson::SIMDJSON_PADDING) and the JSON is parsed in place; otherwise the
// JSON part is copied once into the parser's padded buffer.
//
// Thread-safety: all functions are thread-safe (each thread parses with its
// own simdjson parser).
#ifndef PTSERVE_PROTOCOL_KSERVE_CODEC_H_
#define PTSERVE_PROTOCOL_KSERVE_CODEC_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/inference.h"
#include "protocol/decode_limits.h"

namespace ptserve {

// Decodes an inference request body.
//
// Reads: "id" (string), "parameters" {"timeout" (µs, integer >= 0),
// "priority" (integer >= 0), "binary_data_output" (bool); other keys are
// ignored}, "inputs" (required) [{"name", "shape", "datatype",
// "parameters": {"binary_data_size"}, "data"}], "outputs" [{"name",
// "parameters": {"binary_data": bool}}]. Unknown keys are ignored.
// model_name/model_version are left empty: they come from the URL.
//
// `data` may be flat or nested (read row-major; only the element count must
// match the shape). Element rules per datatype are in tensor_json.h (integers
// must be in range, BOOL is true/false, FP types take any number or
// "NaN"/"Infinity"/"-Infinity", BYTES takes strings). JSON data is copied into
// a new buffer; binary inputs become Tensor::View()s over `body` (no copy) that
// keep `body` alive, so the request may outlive the caller's reference.
// Binary views start wherever they fall in the body: they are NOT aligned to
// the element size. Read them with memcpy, or copy before handing them to code
// that needs alignment (JSON-decoded tensors are freshly allocated, aligned).
//
// Every error is InvalidArgument with a message that names what is wrong and
// where, e.g. "input 'x': shape [1,784] has 784 elements but data has 783".
// Shapes are checked against `limits` before anything is allocated.
absl::StatusOr<InferenceRequest> DecodeKServeRequest(std::shared_ptr<const std::string> body,
                                                     std::optional<size_t> json_header_length,
                                                     const DecodeLimits& limits = {});

struct EncodedResponse {
  std::string body;
  // Set iff some output is binary: the JSON is body[0, *json_header_length),
  // binary outputs' bytes follow. Send it as Inference-Header-Content-Length
  // (and Content-Type application/octet-stream).
  std::optional<size_t> json_header_length;
};

// Encodes a response:
//   {"model_name":..,"model_version":..,"id":.. (only if non-empty),
//    "parameters":{"queue_time_us":..,"compute_time_us":..,"batch_size":..},
//    "outputs":[{"name":..,"datatype":..,"shape":[..],"data":[..]}]}
// `data` is flat. An output with response.binary[i] set gets
// "parameters":{"binary_data_size":N} instead of data, and its bytes are
// appended after the JSON in output order. Numbers and strings are written as
// json_writer.h documents (non-finite floats as "NaN"/"Infinity"/"-Infinity",
// invalid UTF-8 bytes in BYTES as \u00XX). Never fails; a tensor whose buffer
// is shorter than its shape writes null for the missing elements.
EncodedResponse EncodeKServeResponse(const InferenceResponse& response);

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_KSERVE_CODEC_H_
