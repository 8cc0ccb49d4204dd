#include "protocol/tensor_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/json_reader.h"

namespace ptserve {
namespace {

using ::testing::HasSubstr;

TEST(TensorJsonTest, CountsLeavesOfAnyNesting) {
  std::string json = "[[1,2],[3,[4,5]],6,[]]";
  auto root = ParseJson(json, json.size());
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(CountJsonLeaves(*root), 6);
  std::string scalar = "5";
  EXPECT_EQ(CountJsonLeaves(*ParseJson(scalar, scalar.size())), 1);
}

TEST(TensorJsonTest, NestingDepthAndShape) {
  std::string json = "[[[1],[2],[3]],[[4],[5],[6]]]";
  auto root = ParseJson(json, json.size());
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(JsonNestingDepth(*root), 3);
  auto shape = JsonNestedShape(*root, "data");
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(*shape, (Shape{2, 3, 1}));
}

TEST(TensorJsonTest, RaggedAndMixedNestingAreErrors) {
  for (std::string json : {"[[1,2],[3]]", "[[1,2],3]", "[1,[2]]", "[[[1]],[[2,3]]]"}) {
    auto root = ParseJson(json, json.size());
    ASSERT_TRUE(root.ok());
    auto shape = JsonNestedShape(*root, "data");
    ASSERT_FALSE(shape.ok()) << json;
    EXPECT_EQ(shape.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(shape.status().message(),
                ::testing::AnyOf(HasSubstr("ragged"), HasSubstr("mixes")));
  }
}

TEST(TensorJsonTest, ElementErrorsNameIndexValueAndType) {
  struct Case {
    std::string json;
    DataType dtype;
    std::string message;
  };
  const Case cases[] = {
      {"[1, 300]", DataType::kUint8, "x: data[1] = 300 is out of range (datatype UINT8)"},
      {"[-129]", DataType::kInt8, "data[0] = -129 is out of range"},
      {"[-1]", DataType::kUint64, "data[0] = -1 is out of range"},
      {"[18446744073709551615]", DataType::kInt64, "is out of range"},
      {"[[1],[2.5]]", DataType::kInt32, "data[1] = 2.5 is not an integer (datatype INT32)"},
      {"[\"a\"]", DataType::kInt32, "data[0] = \"a\" is not a number"},
      {"[\"a\"]", DataType::kFp32, "data[0] = \"a\" is not a number (datatype FP32)"},
      {"[null]", DataType::kFp64, "is not a number"},
      {"[true, 1]", DataType::kBool, "data[1] = 1 is not true or false"},
      {"[\"a\", 1]", DataType::kBytes, "data[1] = 1 is not a string"},
  };
  for (const Case& c : cases) {
    auto root = ParseJson(c.json, c.json.size());
    ASSERT_TRUE(root.ok());
    std::string out;
    absl::Status status = AppendJsonData(*root, c.dtype, CountJsonLeaves(*root), "x", &out);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.json;
  }
}

TEST(TensorJsonTest, FloatRangeAndSpecialValues) {
  std::string json = "[1e300, -1e300, \"NaN\", \"Infinity\", \"-Infinity\", 3.4028235e38]";
  auto root = ParseJson(json, json.size());
  ASSERT_TRUE(root.ok());
  std::string out;
  ASSERT_TRUE(AppendJsonData(*root, DataType::kFp32, 6, "x", &out).ok());
  ASSERT_EQ(out.size(), 24u);
  const float* f = reinterpret_cast<const float*>(out.data());
  EXPECT_EQ(f[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(f[1], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f[2]));
  EXPECT_EQ(f[3], std::numeric_limits<float>::infinity());
  EXPECT_EQ(f[4], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(f[5], std::numeric_limits<float>::max());
}

TEST(TensorJsonTest, WritesNestedAndFlat) {
  Tensor t = Tensor::Allocate(DataType::kInt32, {2, 3}).value();
  for (int i = 0; i < 6; ++i) reinterpret_cast<int32_t*>(t.mutable_data())[i] = i;
  std::string flat, nested, skipped;
  AppendTensorJson(t, false, 0, &flat);
  AppendTensorJson(t, true, 0, &nested);
  EXPECT_EQ(flat, "[0,1,2,3,4,5]");
  EXPECT_EQ(nested, "[[0,1,2],[3,4,5]]");

  Tensor row = Tensor::Allocate(DataType::kFp32, {1, 2}).value();
  AppendTensorJson(row, true, 1, &skipped);
  EXPECT_EQ(skipped, "[0,0]");

  Tensor empty = Tensor::Allocate(DataType::kFp32, {2, 0}).value();
  std::string e;
  AppendTensorJson(empty, true, 0, &e);
  EXPECT_EQ(e, "[[],[]]");

  Tensor scalar = Tensor::Allocate(DataType::kBool, {}).value();
  std::string s;
  AppendTensorJson(scalar, true, 0, &s);
  EXPECT_EQ(s, "false");
}

TEST(TensorJsonTest, ShortBuffersWriteNullNotGarbage) {
  Tensor t = Tensor::FromBytes(DataType::kFp32, {3}, std::string(8, '\0'));
  std::string out;
  AppendTensorJson(t, false, 0, &out);
  EXPECT_EQ(out, "[0,0,null]");
  Tensor bytes = Tensor::FromBytes(DataType::kBytes, {2}, std::string("\x05\0\0\0ab", 6));
  std::string b;
  AppendTensorJson(bytes, false, 0, &b);
  EXPECT_EQ(b, "[null,null]");
}

}  // namespace
}  // namespace ptserve
