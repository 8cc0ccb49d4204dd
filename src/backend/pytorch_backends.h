// PyTorchBackends: the backends this build serves PyTorch models with (TorchScript
// and AOTInductor), registered under their config platform names. One place
// for the names, shared by the server and ptserve-tune, so that both load a
// model the same way.
//
//   PyTorchBackends backends({.extract_dir = "/tmp"});
//   repo_options.backend = &backends.dispatch();
#ifndef PTSERVE_BACKEND_PYTORCH_BACKENDS_H_
#define PTSERVE_BACKEND_PYTORCH_BACKENDS_H_

#include <memory>

#include "backend/aoti_backend.h"
#include "backend/platform_backends.h"
#include "backend/torchscript_backend.h"

namespace ptserve {

class PyTorchBackends {
 public:
  explicit PyTorchBackends(const AotiBackendOptions& aoti);
  PyTorchBackends(const PyTorchBackends&) = delete;
  PyTorchBackends& operator=(const PyTorchBackends&) = delete;

  // Loads by the request's platform ("pytorch_libtorch"/"torchscript", "torch_aoti").
  PlatformBackends& dispatch() { return platforms_; }

 private:
  TorchScriptBackend torchscript_;
  std::unique_ptr<Backend> aoti_;
  PlatformBackends platforms_;
};

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_PYTORCH_BACKENDS_H_
