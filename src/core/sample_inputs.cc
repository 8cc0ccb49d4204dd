#include "core/sample_inputs.h"

#include "core/half.h"
#include "core/status_macros.h"

namespace ptserve {

absl::StatusOr<Tensor> SampleTensor(DataType dtype, const Shape& shape, bool random,
                                    std::mt19937& rng) {
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  uint8_t* p = t.mutable_data();
  const int64_t n = t.element_count();
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DataType::kFp32:
        reinterpret_cast<float*>(p)[i] = random ? uniform(rng) : 0.f;
        break;
      case DataType::kFp64:
        reinterpret_cast<double*>(p)[i] = random ? uniform(rng) : 0.0;
        break;
      case DataType::kFp16:
        reinterpret_cast<uint16_t*>(p)[i] = FloatToHalf(random ? uniform(rng) : 0.f);
        break;
      case DataType::kBf16:
        reinterpret_cast<uint16_t*>(p)[i] = FloatToBf16(random ? uniform(rng) : 0.f);
        break;
      case DataType::kInt64:
        reinterpret_cast<int64_t*>(p)[i] = random ? 1 : 0;
        break;
      case DataType::kInt32:
        reinterpret_cast<int32_t*>(p)[i] = random ? 1 : 0;
        break;
      case DataType::kInt16:
        reinterpret_cast<int16_t*>(p)[i] = random ? 1 : 0;
        break;
      case DataType::kInt8:
      case DataType::kUint8:
        p[i] = random ? 1 : 0;
        break;
      default:
        break;  // zeros
    }
  }
  return t;
}

absl::StatusOr<std::vector<Tensor>> SampleInputs(const std::vector<TensorSpec>& specs,
                                                 int64_t batch, const VariableDimSize& variable,
                                                 std::mt19937& rng) {
  for (const TensorSpec& spec : specs) {
    if (spec.any_shape) return std::vector<Tensor>{};
  }
  std::vector<Tensor> tensors;
  for (const TensorSpec& spec : specs) {
    Shape shape;
    if (batch > 0) shape.push_back(batch);
    for (size_t d = 0; d < spec.dims.size(); ++d) {
      shape.push_back(spec.dims[d] >= 0 ? spec.dims[d] : variable(spec, d));
    }
    ASSIGN_OR_RETURN(Tensor t, SampleTensor(spec.dtype, shape, true, rng));
    tensors.push_back(std::move(t));
  }
  return tensors;
}

}  // namespace ptserve
