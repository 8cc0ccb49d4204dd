// Fuzzes the KServe v2 JSON request decoder (POST /v2/models/{m}/infer without
// Inference-Header-Content-Length): the whole input is the request body. Whatever decodes is
// echoed back through the response encoder.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "fuzz_common.h"
#include "protocol/decode_limits.h"
#include "protocol/kserve_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The server's defaults (--max-tensor-elements): a decoder must not allocate for a shape
  // before the data backs it, so the default limit has to be safe against tiny inputs.
  const ptserve::DecodeLimits limits;
  auto body = ptserve::fuzz::MakeBody(data, size, /*padded=*/size % 2 == 0);
  auto request = ptserve::DecodeKServeRequest(body, std::nullopt, limits);
  if (!request.ok()) return 0;
  ptserve::EncodedResponse encoded = ptserve::EncodeKServeResponse(ptserve::fuzz::EchoResponse(*request));
  if (encoded.json_header_length && *encoded.json_header_length > encoded.body.size()) __builtin_trap();
  return 0;
}
