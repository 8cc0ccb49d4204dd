#include "backend/operator_libraries.h"

#include <dlfcn.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Optional;

// Loads of plain_ops.cc's library in this process (null: not loaded here).
int* PlainLoads() {
  void* handle = dlopen(PTSERVE_TEST_PLAIN_OPS, RTLD_NOW | RTLD_NOLOAD);
  return handle == nullptr ? nullptr
                           : static_cast<int*>(dlsym(handle, "ptserve_test_plain_loads"));
}

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("ptserve-oplib-" + name + "-" +
                                              std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(OperatorLibrariesTest, LoadsOnceIntoTheProcessAfterTheProbe) {
  OperatorLibraries libraries;
  ASSERT_TRUE(libraries.Load(PTSERVE_TEST_PLAIN_OPS, "test").ok());
  int* loads = PlainLoads();
  ASSERT_NE(loads, nullptr);
  EXPECT_EQ(*loads, 1);  // the probe's load ran in a child, not here
  ASSERT_TRUE(libraries.Load(PTSERVE_TEST_PLAIN_OPS, "again").ok());
  EXPECT_EQ(*loads, 1);
  ASSERT_EQ(libraries.Loaded().size(), 1u);
  EXPECT_EQ(libraries.Loaded()[0].path, fs::canonical(PTSERVE_TEST_PLAIN_OPS).string());
  EXPECT_EQ(libraries.Loaded()[0].origin, "test");
}

TEST(OperatorLibrariesTest, ACrashingConstructorIsRefusedAndThisProcessLives) {
  OperatorLibraries libraries;
  const absl::Status s = libraries.Load(PTSERVE_TEST_CRASH_OPS, "test");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("crashed (signal 11"));
  EXPECT_THAT(s.message(), HasSubstr("not loaded into the server"));
  EXPECT_THAT(s.message(), HasSubstr(PTSERVE_TEST_CRASH_OPS));
  EXPECT_TRUE(libraries.Loaded().empty());
  EXPECT_EQ(dlopen(PTSERVE_TEST_CRASH_OPS, RTLD_NOW | RTLD_NOLOAD), nullptr);
}

TEST(OperatorLibrariesTest, AThrowingConstructorIsRefusedAndTheProbeChildNeverReturns) {
  // Were the exception to escape the probe child, the child would go on
  // running this test (and the parent would wait for it until the timeout).
  OperatorLibraries libraries({.probe_timeout = std::chrono::seconds(20)});
  const auto start = std::chrono::steady_clock::now();
  const absl::Status s = libraries.Load(PTSERVE_TEST_THROW_OPS, "test");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  // An exception leaving a static initializer ends in std::terminate (g++ 12,
  // glibc 2.36): a crash, with libstdc++'s message.
  EXPECT_THAT(s.message(), HasSubstr("crashed (signal 6"));
  EXPECT_THAT(s.message(), HasSubstr("ptserve_test_throw_ops refuses to load"));
  EXPECT_TRUE(libraries.Loaded().empty());
}

TEST(OperatorLibrariesTest, AHangingConstructorIsRefusedAfterTheTimeout) {
  OperatorLibraries libraries({.probe_timeout = std::chrono::milliseconds(300)});
  const auto start = std::chrono::steady_clock::now();
  const absl::Status s = libraries.Load(PTSERVE_TEST_SLOW_OPS, "test");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("did not finish in 0.3 s"));
  EXPECT_TRUE(libraries.Loaded().empty());
}

TEST(OperatorLibrariesTest, MissingFilesAndNonLibrariesAreClearErrors) {
  OperatorLibraries libraries;
  const fs::path dir = TempDir("bad");
  absl::Status s = libraries.Load((dir / "libnothere.so").string(), "test");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("libnothere.so"));

  std::ofstream(dir / "libtext.so") << "this is not an ELF file\n";
  s = libraries.Load((dir / "libtext.so").string(), "test");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not a shared library"));
  EXPECT_THAT(s.message(), HasSubstr("libtext.so"));

  s = libraries.Load(dir.string(), "test");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not a regular file"));
  EXPECT_TRUE(libraries.Loaded().empty());
  fs::remove_all(dir);
}

TEST(FindTorchvisionOperatorsTest, FindsDebiansAndPipsNames) {
  const fs::path debian = TempDir("debian");
  const fs::path pip = TempDir("pip");
  const fs::path none = TempDir("none");
  std::ofstream(debian / "_C.cpython-311-x86_64-linux-gnu.so") << "x";
  std::ofstream(debian / "image.cpython-311-x86_64-linux-gnu.so") << "x";
  std::ofstream(pip / "_C.so") << "x";
  std::ofstream(none / "image.so") << "x";
  EXPECT_THAT(FindTorchvisionOperators({debian.string()}),
              Optional((debian / "_C.cpython-311-x86_64-linux-gnu.so").string()));
  EXPECT_THAT(FindTorchvisionOperators({none.string(), "/nonexistent", pip.string()}),
              Optional((pip / "_C.so").string()));
  EXPECT_EQ(FindTorchvisionOperators({none.string(), "/nonexistent"}), std::nullopt);
  for (const fs::path& d : {debian, pip, none}) fs::remove_all(d);
}

}  // namespace
}  // namespace ptserve
