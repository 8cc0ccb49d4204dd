// The AOTInductor backend of builds against libtorch < 2.6, which has no
// AOTInductor runtime: every load fails and says what would serve it.
#include <torch/version.h>

#include "absl/strings/str_cat.h"
#include "backend/aoti_backend.h"

namespace ptserve {
namespace {

class AotiUnavailable final : public Backend {
 public:
  absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const BackendLoadRequest& request) override {
    return absl::UnimplementedError(absl::StrCat(
        "model '", request.model_name, "' is an AOTInductor package (", request.model_file,
        "), and this build of ptserve (libtorch ", TORCH_VERSION,
        ") has no AOTInductor; build against libtorch >= 2.6 (Debian 13's libtorch-dev)"));
  }
};

}  // namespace

std::unique_ptr<Backend> MakeAotiBackend(const AotiBackendOptions&) {
  return std::make_unique<AotiUnavailable>();
}

bool AotiAvailable() { return false; }

}  // namespace ptserve
