// Helpers shared by the harnesses in fuzz/. Header-only; each harness is one translation unit.
#ifndef PTSERVE_FUZZ_FUZZ_COMMON_H_
#define PTSERVE_FUZZ_FUZZ_COMMON_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/inference.h"

namespace ptserve::fuzz {

// The request body as the server hands it to a decoder: a shared, immutable string. With
// `padded` the string has simdjson's 64 bytes of spare capacity, so the JSON is parsed in place
// (the decoders' fast path); without, its capacity is its size (what a Content-Length body
// gets), so the decoder copies it. Both paths must behave the same.
inline std::shared_ptr<const std::string> MakeBody(const uint8_t* data, size_t size, bool padded) {
  auto body = std::make_shared<std::string>();
  if (padded) {
    body->reserve(size + 64);
  } else {
    body->reserve(size);
  }
  body->assign(reinterpret_cast<const char*>(data), size);
  return body;
}

// A response that echoes a decoded request's inputs as outputs (as an identity model would),
// so that the encoders run over whatever the decoders accepted: views into the body, BYTES
// tensors, zero-sized shapes, scalars.
inline InferenceResponse EchoResponse(const InferenceRequest& request) {
  InferenceResponse response;
  response.model_name = "m";
  response.model_version = "1";
  response.id = request.id;
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    response.outputs.push_back(request.inputs[i]);
    bool binary = request.binary_data_output;
    for (const RequestedOutput& out : request.outputs) {
      if (out.name == request.inputs[i].name) binary = out.binary;
    }
    response.binary.push_back(binary);
  }
  return response;
}

}  // namespace ptserve::fuzz

#endif  // PTSERVE_FUZZ_FUZZ_COMMON_H_
