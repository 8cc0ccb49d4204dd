// Fuzzes the /predict codec: the first byte picks the model input spec (datatype, per-example
// dims with and without -1, batched or not), the rest is the request body. Whatever decodes is
// echoed back through EncodePredictResponse.
#include <cstddef>
#include <cstdint>
#include <iterator>

#include "core/data_type.h"
#include "fuzz_common.h"
#include "protocol/decode_limits.h"
#include "protocol/predict_codec.h"

namespace {

const ptserve::Shape kDims[] = {
    {},         {-1},      {1},          {4},          {784},      {64},  {2, 3},
    {-1, 3},    {3, -1},   {-1, -1},     {2, -1, 2},   {3, 224, 224},   {1, 1, 1, 1},
    {1, -1},    {16},      {2, 3, 4, 5, -1},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0];
  data += 1;
  size -= 1;
  ptserve::PredictInputSpec spec;
  spec.name = "INPUT__0";
  // 4 bits of dims, 1 of batched, 3 of datatype (FP32 most often: it is what models take).
  spec.dims = kDims[selector % std::size(kDims)];
  spec.batched = (selector >> 4) & 1;
  constexpr ptserve::DataType kTypes[] = {
      ptserve::DataType::kFp32, ptserve::DataType::kFp32,  ptserve::DataType::kInt64,
      ptserve::DataType::kBool, ptserve::DataType::kBytes, ptserve::DataType::kFp16,
      ptserve::DataType::kUint8, ptserve::DataType::kFp64};
  spec.dtype = kTypes[(selector >> 5) & 7];
  const ptserve::DecodeLimits limits;
  auto body = ptserve::fuzz::MakeBody(data, size, /*padded=*/size % 2 == 0);
  auto decoded = ptserve::DecodePredictRequest(body, spec, limits);
  if (!decoded.ok()) return 0;
  ptserve::InferenceResponse response = ptserve::fuzz::EchoResponse(decoded->request);
  std::string json = ptserve::EncodePredictResponse(response, decoded->single_example);
  (void)json;
  return 0;
}
