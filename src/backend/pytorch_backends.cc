#include "backend/pytorch_backends.h"

namespace ptserve {

PyTorchBackends::PyTorchBackends(const AotiBackendOptions& aoti) : aoti_(MakeAotiBackend(aoti)) {
  platforms_.Register({"pytorch_libtorch", "torchscript"}, &torchscript_);
  platforms_.Register({"torch_aoti"}, aoti_.get());
}

}  // namespace ptserve
