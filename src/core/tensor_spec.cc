#include "core/tensor_spec.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ptserve {

absl::Status CheckShape(const TensorSpec& spec, const Shape& shape, bool batched,
                        int64_t max_batch_size) {
  if (spec.any_shape) return absl::OkStatus();
  const size_t offset = batched ? 1 : 0;
  auto mismatch = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input '", spec.name, "': shape ", ShapeToString(shape), " does not match the model's ",
        ShapeToString(MetadataShape(spec, batched)), ": ", why));
  };
  if (shape.size() != spec.dims.size() + offset) {
    return mismatch(absl::StrCat("expected rank ", spec.dims.size() + offset));
  }
  if (batched) {
    if (shape[0] < 1) return mismatch("the batch dimension must be at least 1");
    if (shape[0] > max_batch_size) {
      return mismatch(absl::StrCat("batch size ", shape[0], " exceeds max_batch_size ",
                                   max_batch_size));
    }
  }
  for (size_t i = 0; i < spec.dims.size(); ++i) {
    const int64_t want = spec.dims[i];
    if (want != -1 && shape[i + offset] != want) {
      return mismatch(absl::StrCat("dimension ", i + offset, " must be ", want));
    }
  }
  return absl::OkStatus();
}

Shape MetadataShape(const TensorSpec& spec, bool batched) {
  Shape out;
  if (spec.any_shape) return {-1};
  if (batched) out.push_back(-1);
  out.insert(out.end(), spec.dims.begin(), spec.dims.end());
  return out;
}

std::optional<int> IndexedName(std::string_view name, std::string_view prefix) {
  int index;
  if (name.substr(0, prefix.size()) != prefix ||
      !absl::SimpleAtoi(absl::string_view(name.data() + prefix.size(), name.size() - prefix.size()), &index) || index < 0) {
    return std::nullopt;
  }
  return index;
}

}  // namespace ptserve
