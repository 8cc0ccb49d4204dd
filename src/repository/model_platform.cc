#include "repository/model_platform.h"

#include <filesystem>

namespace ptserve {

std::string ModelPlatform(const config::ModelConfig& config, const std::string& version_dir) {
  if (!config.platform().empty()) return config.platform();
  if (config.backend() == "pytorch") return "pytorch_libtorch";
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(fs::path(version_dir) / "model.pt2", ec) &&
      !fs::exists(fs::path(version_dir) / "model.pt", ec)) {
    return "torch_aoti";
  }
  return "pytorch_libtorch";
}

std::string DefaultModelFile(const std::string& platform) {
  return platform == "torch_aoti" ? "model.pt2" : "model.pt";
}

}  // namespace ptserve
