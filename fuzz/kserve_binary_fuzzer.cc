// Fuzzes the KServe binary-tensor request decoder: a JSON header followed by raw tensor bytes,
// the header's length taken from Inference-Header-Content-Length.
//
// Input layout: the first 2 bytes (little-endian) are the header length as the client would
// send it; the rest is the body. Values past the body's end are kept (they must be rejected),
// 0xffff stands for a huge header length (SIZE_MAX - x), exercising overflow checks.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

#include "fuzz_common.h"
#include "protocol/decode_limits.h"
#include "protocol/kserve_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t header_length = static_cast<size_t>(data[0]) | (static_cast<size_t>(data[1]) << 8);
  if (header_length >= 0xfff0) header_length = std::numeric_limits<size_t>::max() - (header_length - 0xfff0);
  data += 2;
  size -= 2;
  const ptserve::DecodeLimits limits;
  auto body = ptserve::fuzz::MakeBody(data, size, /*padded=*/size % 2 == 0);
  auto request = ptserve::DecodeKServeRequest(body, header_length, limits);
  if (!request.ok()) return 0;
  // Binary inputs are views into the body: touch every byte so ASan checks the bounds.
  uint8_t sum = 0;
  for (const auto& input : request->inputs) {
    const uint8_t* bytes = input.tensor.data();
    for (size_t i = 0; i < input.tensor.byte_size(); ++i) sum += bytes[i];
  }
  volatile uint8_t sink = sum;
  (void)sink;
  ptserve::EncodedResponse encoded = ptserve::EncodeKServeResponse(ptserve::fuzz::EchoResponse(*request));
  if (encoded.json_header_length && *encoded.json_header_length > encoded.body.size()) __builtin_trap();
  return 0;
}
