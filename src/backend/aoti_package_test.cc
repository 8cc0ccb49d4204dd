#include "backend/aoti_package.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <zip.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class AotiPackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ptserve_aoti_package_test_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "extract");
    // A small real shared object: libzip's own.
    Dl_info info;
    ASSERT_NE(dladdr(reinterpret_cast<void*>(&zip_open), &info), 0);
    so_bytes_ = ReadAll(info.dli_fname);
    ASSERT_GT(so_bytes_.size(), 8000u);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes a zip with `entries` (name -> bytes) and returns its path.
  std::string Zip(const std::vector<std::pair<std::string, std::string>>& entries) {
    const std::string path = (dir_ / ("p" + std::to_string(count_++) + ".pt2")).string();
    int error = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
    EXPECT_NE(z, nullptr);
    for (const auto& [name, bytes] : entries) {
      zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
      EXPECT_GE(zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE), 0);
    }
    EXPECT_EQ(zip_close(z), 0);
    return path;
  }
  std::vector<std::pair<std::string, std::string>> Valid(const std::string& prefix = "") {
    return {{prefix + "version", "0"},
            {prefix + "archive_format", "pt2"},
            {prefix + "data/aotinductor/model/abc.so", so_bytes_},
            {prefix + "data/aotinductor/model/abc_metadata.json",
             R"({"AOTI_DEVICE_KEY": "cpu", "ptserve.inputs": "[]", "n": 3})"},
            {prefix + "data/aotinductor/model/abc.cpp",
             "int x;\n// Compile cmd\n// g++ x.cpp -I/usr/lib/python3/dist-packages/torch/include "
             "-D_GLIBCXX_USE_CXX11_ABI=1 -c\n"}};
  }
  AotiPackage::Options Options() {
    AotiPackage::Options o;
    o.directory = (dir_ / "extract").string();
    return o;
  }

  fs::path dir_;
  std::string so_bytes_;
  int count_ = 0;
};

TEST_F(AotiPackageTest, ExtractsTheModelLibraryAndMetadata) {
  std::string extracted;
  {
    auto pkg = AotiPackage::Extract(Zip(Valid()), Options());
    ASSERT_TRUE(pkg.ok()) << pkg.status();
    EXPECT_EQ((*pkg)->model_name(), "model");
    EXPECT_EQ(ReadAll((*pkg)->so_path()), so_bytes_);
    EXPECT_EQ((*pkg)->device(), "cpu");
    EXPECT_EQ((*pkg)->metadata().at("ptserve.inputs"), "[]");
    EXPECT_EQ((*pkg)->metadata().at("n"), "3");
    EXPECT_EQ((*pkg)->cxx11_abi(), 1);
    EXPECT_EQ((*pkg)->torch_include_dir(), "/usr/lib/python3/dist-packages/torch/include");
    extracted = fs::path((*pkg)->so_path()).parent_path().string();
    EXPECT_TRUE(fs::path(extracted).string().rfind(Options().directory, 0) == 0);
  }
  EXPECT_FALSE(fs::exists(extracted)) << "removed with the package";
}

TEST_F(AotiPackageTest, AcceptsATopLevelFolder) {
  auto pkg = AotiPackage::Extract(Zip(Valid("mlp/")), Options());
  ASSERT_TRUE(pkg.ok()) << pkg.status();
}

TEST_F(AotiPackageTest, RejectsFilesThatAreNotPackages) {
  const std::string junk = (dir_ / "junk.pt2").string();
  std::ofstream(junk) << "this is not a zip archive";
  EXPECT_EQ(AotiPackage::Extract(junk, Options()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AotiPackage::Extract((dir_ / "missing.pt2").string(), Options()).status().code(),
            absl::StatusCode::kNotFound);
  auto s = AotiPackage::Extract(Zip({{"version", "0"}, {"model.pt", "x"}}), Options()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("no AOTInductor model"));
}

TEST_F(AotiPackageTest, RejectsATruncatedPackage) {
  const std::string whole = ReadAll(Zip(Valid()));
  for (size_t keep : {whole.size() / 2, whole.size() - 30, size_t{100}}) {
    const std::string cut = (dir_ / "cut.pt2").string();
    std::ofstream(cut, std::ios::binary | std::ios::trunc) << whole.substr(0, keep);
    EXPECT_EQ(AotiPackage::Extract(cut, Options()).status().code(),
              absl::StatusCode::kInvalidArgument) << keep;
  }
}

TEST_F(AotiPackageTest, RejectsACorruptEntry) {
  std::string bytes = ReadAll(Zip(Valid()));
  // Flip bytes inside the .so's compressed data (the bulk of the archive).
  const size_t at = bytes.find("abc.so");
  ASSERT_NE(at, std::string::npos);
  for (size_t i = at + 2000; i < at + 2100; ++i) bytes[i] ^= 0x5a;
  const std::string bad = (dir_ / "corrupt.pt2").string();
  std::ofstream(bad, std::ios::binary) << bytes;
  EXPECT_EQ(AotiPackage::Extract(bad, Options()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AotiPackageTest, BoundsTheBytesItUnpacks) {
  AotiPackage::Options o = Options();
  o.max_bytes = 1000;
  auto s = AotiPackage::Extract(Zip(Valid()), o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("limit"));
}

TEST_F(AotiPackageTest, SeveralModelsNeedAName) {
  auto entries = Valid();
  entries.push_back({"data/aotinductor/other/def.so", so_bytes_});
  const std::string path = Zip(entries);
  auto s = AotiPackage::Extract(path, Options()).status();
  EXPECT_THAT(s.message(), HasSubstr("several models (model, other)"));
  AotiPackage::Options o = Options();
  o.model_name = "other";
  auto pkg = AotiPackage::Extract(path, o);
  ASSERT_TRUE(pkg.ok()) << pkg.status();
  EXPECT_EQ((*pkg)->model_name(), "other");
}

TEST_F(AotiPackageTest, EntryNamesCannotLeaveTheExtractionFolder) {
  auto entries = Valid();
  entries.push_back({"data/aotinductor/../../../../evil.so", so_bytes_});
  entries.push_back({"/data/aotinductor/model/abs.so", so_bytes_});
  auto pkg = AotiPackage::Extract(Zip(entries), Options());
  ASSERT_TRUE(pkg.ok()) << pkg.status();
  EXPECT_FALSE(fs::exists(dir_ / "evil.so"));
  EXPECT_EQ(fs::path((*pkg)->so_path()).filename(), "model.so");
}

TEST_F(AotiPackageTest, AnUnwritableFolderIsAClearError) {
  AotiPackage::Options o;
  o.directory = (dir_ / "no" / "such" / "folder").string();
  auto s = AotiPackage::Extract(Zip(Valid()), o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("--aoti-extract-dir"));
}

TEST_F(AotiPackageTest, FindsKernelsWithAFixedThreadCount) {
  auto pkg = AotiPackage::Extract(Zip(Valid()), Options());
  ASSERT_TRUE(pkg.ok()) << pkg.status();
  EXPECT_EQ((*pkg)->fixed_parallel_threads(), std::nullopt);
  EXPECT_EQ(FixedOpenMpThreads("#pragma omp parallel num_threads(2)\n{}\n"
                               "#pragma omp parallel num_threads(16)\n"),
            16);
  EXPECT_EQ(FixedOpenMpThreads("#pragma omp parallel num_threads(max_threads)\n"), std::nullopt);
  EXPECT_EQ(FixedOpenMpThreads("num_threads(12"), std::nullopt);
  EXPECT_EQ(FixedOpenMpThreads(""), std::nullopt);
}

TEST(ParseFlatJsonObjectTest, KeepsStringsAndOtherValuesAsText) {
  auto m = ParseFlatJsonObject(R"({"a": "x", "b": [1, 2], "c": true})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at("a"), "x");
  EXPECT_EQ(m->at("b"), "[1,2]");
  EXPECT_EQ(m->at("c"), "true");
  EXPECT_FALSE(ParseFlatJsonObject("[1]").ok());
  EXPECT_FALSE(ParseFlatJsonObject("{").ok());
}

}  // namespace
}  // namespace ptserve
