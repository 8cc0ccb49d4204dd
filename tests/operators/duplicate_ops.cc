// Registers the namespace of test_ops.cc again. Loaded after it, libtorch
// throws from this library's constructor, which would terminate the process.
#include <ATen/ATen.h>
#include <torch/library.h>

namespace {

at::Tensor ScaleAdd(const at::Tensor& x, double scale) { return x * scale; }

}  // namespace

TORCH_LIBRARY(ptserve_test, m) {
  m.def("scale_add(Tensor x, float scale) -> Tensor");
  m.impl("scale_add", c10::DispatchKey::CPU, TORCH_FN(ScaleAdd));
}
