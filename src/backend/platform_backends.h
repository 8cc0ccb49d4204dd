// PlatformBackends: the backends of this build, chosen by a model's config
// `platform` — the one Backend the repository talks to.
//
//   PlatformBackends backends;
//   backends.Register({"pytorch_libtorch", "torchscript"}, &torchscript);
//   backends.Register({"torch_aoti"}, aoti.get());
//   repository_options.backend = &backends;
//
// Load() also turns any exception a backend lets escape (bad_alloc while
// loading a large model, system_error when threads cannot be made) into a
// Status, so one model that cannot load fails alone.
#ifndef PTSERVE_BACKEND_PLATFORM_BACKENDS_H_
#define PTSERVE_BACKEND_PLATFORM_BACKENDS_H_

#include <map>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace ptserve {

class PlatformBackends final : public Backend {
 public:
  // `backend` is not owned and outlives this object. Call before any Load().
  void Register(const std::vector<std::string>& platforms, Backend* backend);

  // InvalidArgument naming the platforms this build serves when
  // `request.platform` is not one of them. Thread-safe after registration.
  absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const BackendLoadRequest& request) override;

  std::vector<std::string> platforms() const;

 private:
  std::map<std::string, Backend*> backends_;
};

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_PLATFORM_BACKENDS_H_
