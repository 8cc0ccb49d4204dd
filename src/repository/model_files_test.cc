#include "repository/model_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ModelFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ptserve-files-XXXXXX";
    root_ = mkdtemp(tmpl);
    fs::create_directories(root_ / "m" / "1");
    fs::create_directories(root_ / "m" / "warmup");
    fs::create_directories(root_ / "outside");
    Write(root_ / "m" / "1" / "model.pt", "model");
    Write(root_ / "m" / "warmup" / "x.bin", std::string(16, '\1'));
    Write(root_ / "outside" / "secret.pt", "secret");
  }
  void TearDown() override { fs::remove_all(root_); }

  static void Write(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }

  std::string Dir(const std::string& rel) const { return (root_ / rel).string(); }

  fs::path root_;
};

TEST_F(ModelFilesTest, ResolvesFilesInsideTheDirectory) {
  auto path = ResolveFileInside(Dir("m/1"), "model.pt", "default_model_filename");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, fs::canonical(root_ / "m/1/model.pt").string());
  // A symlinked directory (as the operator links versions in) is resolved first.
  fs::create_directory_symlink(root_ / "m" / "1", root_ / "m" / "2");
  EXPECT_TRUE(ResolveFileInside(Dir("m/2"), "model.pt", "f").ok());
  // A symlink that stays inside is fine.
  fs::create_symlink("model.pt", root_ / "m" / "1" / "alias.pt");
  EXPECT_TRUE(ResolveFileInside(Dir("m/1"), "alias.pt", "f").ok());
}

TEST_F(ModelFilesTest, RefusesNamesThatLeaveTheDirectory) {
  auto status = ResolveFileInside(Dir("m/1"), Dir("outside/secret.pt"), "default_model_filename")
                    .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("default_model_filename: '" + Dir("outside/secret.pt") +
                        "' is an absolute path"));
  status = ResolveFileInside(Dir("m/1"), "../../outside/secret.pt", "f").status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("has a '..' component"));
  EXPECT_FALSE(ResolveFileInside(Dir("m/1"), "/etc/passwd", "f").ok());
  EXPECT_FALSE(ResolveFileInside(Dir("m/1"), "", "f").ok());
}

TEST_F(ModelFilesTest, RefusesSymlinksThatLeadOutside) {
  fs::create_symlink(root_ / "outside" / "secret.pt", root_ / "m" / "1" / "link.pt");
  auto status = ResolveFileInside(Dir("m/1"), "link.pt", "default_model_filename").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'link.pt' resolves outside"));
  // Through a linked directory, and to a device.
  fs::create_directory_symlink(root_ / "outside", root_ / "m" / "1" / "sub");
  EXPECT_THAT(std::string(ResolveFileInside(Dir("m/1"), "sub/secret.pt", "f").status().message()),
              HasSubstr("resolves outside"));
  fs::create_symlink("/dev/zero", root_ / "m" / "warmup" / "zero.bin");
  EXPECT_THAT(std::string(ResolveFileInside(Dir("m"), "warmup/zero.bin", "f").status().message()),
              HasSubstr("resolves outside"));
  // A missing file outside is not told apart from an existing one.
  fs::create_symlink(root_ / "outside" / "nothing.pt", root_ / "m" / "1" / "dangling.pt");
  EXPECT_THAT(std::string(ResolveFileInside(Dir("m/1"), "dangling.pt", "f").status().message()),
              HasSubstr("resolves outside"));
}

TEST_F(ModelFilesTest, RegularFilesOnly) {
  auto status = ResolveFileInside(Dir("m"), "1", "f").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("is not a regular file"));
  ASSERT_EQ(mkfifo((root_ / "m" / "warmup" / "fifo").c_str(), 0600), 0);
  EXPECT_THAT(std::string(ResolveFileInside(Dir("m"), "warmup/fifo", "f").status().message()),
              HasSubstr("is not a regular file"));
  EXPECT_EQ(ResolveFileInside(Dir("m"), "warmup/none.bin", "f").status().code(),
            absl::StatusCode::kNotFound);
  // Reading never blocks on a FIFO or reads a device.
  EXPECT_FALSE(ReadFileExactly((root_ / "m" / "warmup" / "fifo").string(), 16, "f").ok());
  EXPECT_THAT(std::string(ReadFileExactly("/dev/zero", 16, "f").status().message()),
              HasSubstr("not a regular file"));
}

TEST_F(ModelFilesTest, ReadsExactlyTheExpectedSize) {
  const std::string path = Dir("m/warmup/x.bin");
  auto bytes = ReadFileExactly(path, 16, "warm-up 'w'");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->size(), 16u);
  auto status = ReadFileExactly(path, 3136, "warm-up 'w'").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("has 16 bytes, expected 3136"));
  EXPECT_TRUE(ReadFileAtMost(path, 16).ok());
  EXPECT_THAT(std::string(ReadFileAtMost(path, 15).status().message()), HasSubstr("at most 15"));
}

}  // namespace
}  // namespace ptserve
