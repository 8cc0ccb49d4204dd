#include "backend/shared_object_info.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Self() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

std::string TempFile(const std::string& name, const std::string& bytes) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(SharedObjectInfoTest, ReadsWhatThisTestBinaryLinks) {
  auto info = ReadSharedObjectInfo(Self());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->machine, CurrentHostLibraries().machine);
  EXPECT_THAT(info->needed, Contains(StartsWith("libc.so")));
  EXPECT_TRUE(info->Needs("libstdc++"));
  ASSERT_TRUE(info->NewestVersion("GLIBC_").has_value());
  EXPECT_FALSE(Incompatibility(*info, CurrentHostLibraries()).has_value());
  EXPECT_THAT(info->Describe(), HasSubstr("GLIBC_2."));
}

TEST(SharedObjectInfoTest, NamesANewerGlibcThanTheHosts) {
  SharedObjectInfo so;
  so.machine = CurrentHostLibraries().machine;
  so.version_needs = {"GLIBC_2.2.5", "GLIBC_2.38", "GLIBCXX_3.4.32"};
  HostLibraries host = CurrentHostLibraries();
  host.glibc = {2, 36};
  auto why = Incompatibility(so, host);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("needs glibc 2.38"));
  EXPECT_THAT(*why, HasSubstr("has glibc 2.36"));
  host.glibc = {2, 41};
  EXPECT_FALSE(Incompatibility(so, host).has_value());
  so.machine = "aarch64";
  host.machine = "x86-64";
  EXPECT_THAT(Incompatibility(so, host).value_or(""), HasSubstr("built for aarch64"));
}

TEST(SharedObjectInfoTest, RejectsFilesThatAreNotSharedObjects) {
  EXPECT_EQ(ReadSharedObjectInfo("/nonexistent/x.so").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadSharedObjectInfo(TempFile("ptserve_not_elf.so", "hello")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A real header whose tables are cut off.
  std::ifstream in(Self(), std::ios::binary);
  std::string head(200, '\0');
  in.read(head.data(), head.size());
  EXPECT_EQ(ReadSharedObjectInfo(TempFile("ptserve_truncated.so", head)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ptserve
