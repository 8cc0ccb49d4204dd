// Which backend a model version needs and which file it loads, when the
// config does not say: Triton's `platform` names ("pytorch_libtorch",
// "torch_aoti"), found from the files in the version directory.
//
//   request.platform = ModelPlatform(config, version_dir);
//   request.model_file = DefaultModelFile(request.platform);
#ifndef PTSERVE_REPOSITORY_MODEL_PLATFORM_H_
#define PTSERVE_REPOSITORY_MODEL_PLATFORM_H_

#include <string>

#include "config/model_config.h"

namespace ptserve {

// The config's `platform`; `backend: "pytorch"` is pytorch_libtorch; with
// neither, "torch_aoti" when `version_dir` holds model.pt2 and no model.pt,
// else "pytorch_libtorch".
std::string ModelPlatform(const config::ModelConfig& config, const std::string& version_dir);

// The file a platform loads unless default_model_filename says otherwise:
// "model.pt2" for torch_aoti, else "model.pt".
std::string DefaultModelFile(const std::string& platform);

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_MODEL_PLATFORM_H_
