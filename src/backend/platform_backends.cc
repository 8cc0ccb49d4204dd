#include "backend/platform_backends.h"

#include <new>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ptserve {

void PlatformBackends::Register(const std::vector<std::string>& platforms, Backend* backend) {
  for (const std::string& p : platforms) backends_[p] = backend;
}

std::vector<std::string> PlatformBackends::platforms() const {
  std::vector<std::string> names;
  for (const auto& [name, backend] : backends_) names.push_back(name);
  return names;
}

absl::StatusOr<std::shared_ptr<LoadedModel>> PlatformBackends::Load(
    const BackendLoadRequest& request) {
  const std::string platform = request.platform.empty() ? "pytorch_libtorch" : request.platform;
  auto it = backends_.find(platform);
  if (it == backends_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("platform '", platform,
                                                   "' is not served by this build (it serves: ",
                                                   absl::StrJoin(platforms(), ", "), ")"));
  }
  try {
    return it->second->Load(request);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory while loading model '", request.model_name, "'"));
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("loading model '", request.model_name,
                                                     "' failed: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("loading model '", request.model_name,
                                            "' failed: ", e.what()));
  }
}

}  // namespace ptserve
