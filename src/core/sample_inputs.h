// Synthetic inputs: the one generator behind the repository's generated
// warm-up runs and the samples a backend checks load-time optimisations on.
//
//   std::mt19937 rng(42);
//   auto tensors = SampleInputs(specs, /*batch=*/2, [](const TensorSpec&, size_t) { return 8; },
//   rng);
//
// Values: floats uniform in [0, 1), integers 1 (a valid token id and a mask
// that keeps every position), booleans false.
#ifndef PTSERVE_CORE_SAMPLE_INPUTS_H_
#define PTSERVE_CORE_SAMPLE_INPUTS_H_

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "core/tensor_spec.h"

namespace ptserve {

// The size a variable dimension gets when nothing else says.
inline constexpr int64_t kSampleVariableDim = 8;

// A tensor of `dtype` and `shape`: the values above when `random`, zeros
// otherwise (Triton's zero_data). Fails like Tensor::Allocate.
absl::StatusOr<Tensor> SampleTensor(DataType dtype, const Shape& shape, bool random,
                                    std::mt19937& rng);

// The size generated inputs give declared dimension `d` of `spec` when it is
// variable (-1); declared sizes are kept.
using VariableDimSize = std::function<int64_t(const TensorSpec& spec, size_t d)>;

// One input per spec, in order: `batch` rows first when batch > 0 (none when
// 0), then the declared dimensions. Empty when a spec has no known shape
// (`any_shape`): there is nothing to generate from.
absl::StatusOr<std::vector<Tensor>> SampleInputs(const std::vector<TensorSpec>& specs,
                                                 int64_t batch, const VariableDimSize& variable,
                                                 std::mt19937& rng);

}  // namespace ptserve

#endif  // PTSERVE_CORE_SAMPLE_INPUTS_H_
