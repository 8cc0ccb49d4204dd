// A custom operator library as users write them: ptserve_test::scale_add(x,
// scale) = x * scale + 1, registered with TORCH_LIBRARY when the library is
// loaded. The integration tests script a model that calls it.
#include <ATen/ATen.h>
#include <torch/library.h>

namespace {

at::Tensor ScaleAdd(const at::Tensor& x, double scale) { return x * scale + 1; }

}  // namespace

TORCH_LIBRARY(ptserve_test, m) {
  m.def("scale_add(Tensor x, float scale) -> Tensor");
  m.impl("scale_add", c10::DispatchKey::CPU, TORCH_FN(ScaleAdd));
}
