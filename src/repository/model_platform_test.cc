#include "repository/model_platform.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace ptserve {
namespace {

TEST(ModelPlatformTest, FromTheConfigElseFromTheFiles) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "ptserve_model_platform_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  config::ModelConfig c;
  EXPECT_EQ(ModelPlatform(c, dir.string()), "pytorch_libtorch");
  std::ofstream(dir / "model.pt2") << "x";
  EXPECT_EQ(ModelPlatform(c, dir.string()), "torch_aoti");
  c.set_backend("pytorch");
  EXPECT_EQ(ModelPlatform(c, dir.string()), "pytorch_libtorch");
  c.set_platform("torch_aoti");
  EXPECT_EQ(ModelPlatform(c, dir.string()), "torch_aoti");
  c.clear_platform();
  c.clear_backend();
  std::ofstream(dir / "model.pt") << "x";
  EXPECT_EQ(ModelPlatform(c, dir.string()), "pytorch_libtorch");
  fs::remove_all(dir);
}

TEST(ModelPlatformTest, DefaultFiles) {
  EXPECT_EQ(DefaultModelFile("torch_aoti"), "model.pt2");
  EXPECT_EQ(DefaultModelFile("pytorch_libtorch"), "model.pt");
  EXPECT_EQ(DefaultModelFile(""), "model.pt");
}

}  // namespace
}  // namespace ptserve
