// Warm-up requests: the config's model_warmup (files confined and
// size-checked) or generated ones within the bounds; no backend.
#include "repository/warmup.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

LoadPlan PlanOf(const std::string& text, const std::string& dir = "/nonexistent") {
  LoadPlan plan;
  plan.dir = dir;
  plan.config_file = "models/m/config.pbtxt";
  plan.config = ParseModelConfig(text, plan.config_file).value().config;
  plan.params = ParseModelParameters(plan.config).value();
  for (const auto& in : plan.config.input()) {
    plan.inputs.push_back({.name = in.name(),
                           .dtype = ToCoreDataType(in.data_type()).value(),
                           .dims = Shape(in.dims().begin(), in.dims().end())});
  }
  return plan;
}

TEST(WarmupTest, GeneratedBatchOneAndTheLargestBatch) {
  LoadPlan plan = PlanOf(R"pb(
    name: "m"
    max_batch_size: 16
    input {
      name: "ids"
      data_type: TYPE_INT64
      dims: [ -1 ]
    }
    input {
      name: "x"
      data_type: TYPE_FP32
      dims: [ 3 ]
    }
  )pb");
  auto runs = WarmupRequests(plan, plan.inputs, true, 0).value();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].count, 3);
  ASSERT_EQ(runs[0].request.inputs.size(), 2u);
  EXPECT_EQ(runs[0].request.inputs[0].name, "ids");
  EXPECT_EQ(runs[0].request.inputs[0].tensor.shape(), (Shape{1, kSampleVariableDim}));
  EXPECT_EQ(runs[0].request.inputs[1].tensor.shape(), (Shape{1, 3}));
  EXPECT_EQ(runs[1].request.inputs[0].tensor.shape(), (Shape{16, kSampleVariableDim}));
}

TEST(WarmupTest, GeneratedUnbatched) {
  LoadPlan plan = PlanOf(R"pb(
    name: "m"
    input {
      name: "x"
      data_type: TYPE_FP32
      dims: [ 2, 3 ]
    }
  )pb");
  auto runs = WarmupRequests(plan, plan.inputs, false, 0).value();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].request.inputs[0].tensor.shape(), (Shape{2, 3}));
}

TEST(WarmupTest, GeneratedRunsStayWithinTheBounds) {
  LoadPlan plan = PlanOf(R"pb(
    name: "m"
    max_batch_size: 1000
    input {
      name: "x"
      data_type: TYPE_FP32
      dims: [ 1000 ]
    }
  )pb");
  // At most kGeneratedWarmupMaxBatch rows, and max_elements bounds the batch.
  auto runs = WarmupRequests(plan, plan.inputs, true, 0).value();
  EXPECT_EQ(runs.back().request.inputs[0].tensor.shape()[0], kGeneratedWarmupMaxBatch);
  runs = WarmupRequests(plan, plan.inputs, true, 5000).value();
  EXPECT_EQ(runs.back().request.inputs[0].tensor.shape()[0], 5);
  // One item over --max-tensor-elements: no generated warm-up at all.
  EXPECT_TRUE(WarmupRequests(plan, plan.inputs, true, 999).value().empty());
  // An item that does not fit kMaxWarmupBytes: none either, and nothing allocated.
  std::vector<TensorSpec> huge{{.name = "x", .dims = {int64_t{1} << 30, int64_t{1} << 30}}};
  EXPECT_TRUE(WarmupRequests(plan, huge, true, 0).value().empty());
  // Unknown shapes: nothing to generate from.
  std::vector<TensorSpec> unknown{
      {.name = "x", .dtype = DataType::kFp32, .dims = {}, .any_shape = true}};
  EXPECT_TRUE(WarmupRequests(plan, unknown, true, 0).value().empty());
}

TEST(WarmupTest, VariableDimensionsRespectTheModelsLimits) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "protobuf map fields under TSan (see model_repository_test.cc)";
#endif
  LoadPlan plan = PlanOf(R"pb(
    name: "m"
    input {
      name: "ids"
      data_type: TYPE_INT64
      dims: [ -1 ]
    }
    parameters {
      key: "MAX_SEQUENCE_LENGTH"
      value: { string_value: "5" }
    }
  )pb");
  auto runs = WarmupRequests(plan, plan.inputs, false, 0).value();
  EXPECT_EQ(runs[0].request.inputs[0].tensor.shape(), (Shape{5}));
}

class WarmupFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ptserve-warmup-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fs::create_directories(dir_ / "warmup");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / "warmup" / name, std::ios::binary) << bytes;
  }
  LoadPlan Plan(const std::string& file) {
    const std::string config = absl::StrCat(
        "name: \"m\" max_batch_size: 4\n", "input { name: \"x\" data_type: TYPE_FP32 dims: [2] }\n",
        "model_warmup { name: \"w\" batch_size: 2 count: 5 inputs { key: \"x\" value: { ",
        "data_type: TYPE_FP32 dims: [2] input_data_file: \"", file, "\" } } }\n");
    return PlanOf(config, dir_.string());
  }
  fs::path dir_;
};

TEST_F(WarmupFileTest, FilesOfTheRightSize) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "protobuf map fields under TSan (see model_repository_test.cc)";
#endif
  Write("x.bin", std::string(16, '\0'));  // 2 x 2 floats
  LoadPlan plan = Plan("x.bin");
  auto runs = WarmupRequests(plan, plan.inputs, true, 0);
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].count, 5);
  EXPECT_EQ((*runs)[0].request.inputs[0].tensor.shape(), (Shape{2, 2}));

  Write("short.bin", std::string(15, '\0'));
  plan = Plan("short.bin");
  EXPECT_FALSE(WarmupRequests(plan, plan.inputs, true, 0).ok());
  plan = Plan("../../etc/passwd");
  auto outside = WarmupRequests(plan, plan.inputs, true, 0);
  ASSERT_FALSE(outside.ok());
  EXPECT_THAT(outside.status().message(), HasSubstr("input_data_file"));
}

TEST(CheckSerializedBytesTest, CountsLengthPrefixedElements) {
  const std::string two = std::string("\x02\0\0\0ab", 6) + std::string("\x00\0\0\0", 4);
  EXPECT_TRUE(CheckSerializedBytes(two, 2, "f").ok());
  EXPECT_FALSE(CheckSerializedBytes(two, 3, "f").ok());
  EXPECT_FALSE(CheckSerializedBytes(two.substr(0, 5), 1, "f").ok());  // cut inside an element
  EXPECT_FALSE(CheckSerializedBytes(two + "\x01", 2, "f").ok());      // trailing byte
  EXPECT_FALSE(CheckSerializedBytes(std::string("\xff\xff\xff\xff", 4), 1, "f").ok());
  EXPECT_TRUE(CheckSerializedBytes("", 0, "f").ok());
}

}  // namespace
}  // namespace ptserve
