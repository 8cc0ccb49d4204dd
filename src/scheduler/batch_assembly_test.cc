#include "scheduler/batch_assembly.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ptserve {
namespace {

template <typename T>
Tensor Make(DataType dtype, Shape shape, std::vector<T> values) {
  Tensor t = Tensor::Allocate(dtype, shape).value();
  std::memcpy(t.mutable_data(), values.data(), values.size() * sizeof(T));
  return t;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  std::vector<T> out(t.byte_size() / sizeof(T));
  std::memcpy(out.data(), t.data(), t.byte_size());
  return out;
}

TEST(BatchAssemblyTest, SingleItemIsNotCopied) {
  ItemInputs a{Make<float>(DataType::kFp32, {1, 2}, {1, 2})};
  auto batch = GatherInputs({&a}, {}).value();
  EXPECT_EQ(batch[0].data(), a[0].data());
}

TEST(BatchAssemblyTest, ConcatenatesAndSplits) {
  ItemInputs a{Make<float>(DataType::kFp32, {1, 2}, {1, 2})};
  ItemInputs b{Make<float>(DataType::kFp32, {2, 2}, {3, 4, 5, 6})};
  ASSERT_TRUE(Compatible(a, b, {}));
  auto batch = GatherInputs({&a, &b}, {}).value();
  EXPECT_EQ(batch[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<float>(batch[0]), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  auto split = ScatterOutputs(batch, {&a, &b}, {}, {}).value();
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(split[0][0].shape(), (Shape{1, 2}));
  EXPECT_EQ(Values<float>(split[1][0]), (std::vector<float>{3, 4, 5, 6}));
  EXPECT_EQ(split[1][0].data(), batch[0].data() + 8);  // a view
}

TEST(BatchAssemblyTest, DifferentShapesAreIncompatibleUnlessPadded) {
  ItemInputs a{Make<int64_t>(DataType::kInt64, {1, 3}, {1, 2, 3})};
  ItemInputs b{Make<int64_t>(DataType::kInt64, {1, 5}, {4, 5, 6, 7, 8})};
  EXPECT_FALSE(Compatible(a, b, {}));
  std::vector<InputPadding> pad{{true, 0}};
  ASSERT_TRUE(Compatible(a, b, pad));
  auto batch = GatherInputs({&a, &b}, pad).value();
  EXPECT_EQ(batch[0].shape(), (Shape{2, 5}));
  EXPECT_EQ(Values<int64_t>(batch[0]), (std::vector<int64_t>{1, 2, 3, 0, 0, 4, 5, 6, 7, 8}));
  // A per-token output [2, 5, 1] is trimmed back to each request's length.
  Tensor out = Make<float>(DataType::kFp32, {2, 5, 1}, {1, 2, 3, 9, 9, 4, 5, 6, 7, 8});
  auto split = ScatterOutputs({out}, {&a, &b}, pad, {0}).value();
  EXPECT_EQ(split[0][0].shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(Values<float>(split[0][0]), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(split[1][0].shape(), (Shape{1, 5, 1}));
}

TEST(BatchAssemblyTest, NonZeroPadValue) {
  ItemInputs a{Make<float>(DataType::kFp32, {1, 1}, {1})};
  ItemInputs b{Make<float>(DataType::kFp32, {1, 2}, {2, 3})};
  auto batch = GatherInputs({&a, &b}, {{true, -1.5}}).value();
  EXPECT_EQ(Values<float>(batch[0]), (std::vector<float>{1, -1.5, 2, 3}));
}

// Found by UBSan (scripts/sanitize.sh): padding zero-element tensors copied with
// memcpy(nullptr, nullptr, 0), which is undefined behaviour.
TEST(BatchAssemblyTest, PaddingZeroElementTensors) {
  ItemInputs a{Tensor::FromBytes(DataType::kFp32, {1, 0}, "")};
  ItemInputs b{Tensor::FromBytes(DataType::kFp32, {1, 0}, "")};
  auto batch = GatherInputs({&a, &b}, {{true, 0.0}});
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ((*batch)[0].shape(), (Shape{2, 0}));
  auto unpadded = GatherInputs({&a, &b}, {});
  ASSERT_TRUE(unpadded.ok()) << unpadded.status();
  EXPECT_EQ((*unpadded)[0].shape(), (Shape{2, 0}));
}

TEST(BatchAssemblyTest, RejectsOutputsThatLoseTheBatchDimension) {
  ItemInputs a{Make<float>(DataType::kFp32, {1, 1}, {1})};
  ItemInputs b{Make<float>(DataType::kFp32, {1, 1}, {2})};
  Tensor out = Make<float>(DataType::kFp32, {1}, {1});
  auto split = ScatterOutputs({out}, {&a, &b}, {}, {});
  EXPECT_EQ(split.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(split.status().message().find("dimension 0"), std::string::npos);
}

TEST(BatchAssemblyTest, DtypeMismatchIsIncompatible) {
  ItemInputs a{Make<float>(DataType::kFp32, {1, 1}, {1})};
  ItemInputs b{Make<int32_t>(DataType::kInt32, {1, 1}, {1})};
  EXPECT_FALSE(Compatible(a, b, {}));
}

TEST(BatchAssemblyTest, PaddedBatchesAreCheckedBeforeAllocating) {
  // Zero elements each, but padded together [2, 2^31, 2^31]: refused, not allocated.
  ItemInputs a{Tensor::Allocate(DataType::kInt64, {1, 0, int64_t{1} << 31}).value()};
  ItemInputs b{Tensor::Allocate(DataType::kInt64, {1, int64_t{1} << 31, 0}).value()};
  std::vector<InputPadding> pad{{true, 0}};
  BatchLimits limits;
  limits.max_elements = 1 << 20;
  limits.input_names = {"ids"};
  auto batch = GatherInputs({&a, &b}, pad, limits);
  ASSERT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(batch.status().message().find("input 'ids'"), std::string::npos) << batch.status();
  EXPECT_NE(batch.status().message().find("[2,2147483648,2147483648]"), std::string::npos)
      << batch.status();
  EXPECT_NE(batch.status().message().find("1048576"), std::string::npos) << batch.status();
  // Even with no limit, a product past int64 is refused.
  ItemInputs c{Tensor::View(DataType::kInt64, {1, 0, int64_t{1} << 62}, nullptr, nullptr, 0)};
  ItemInputs d{Tensor::View(DataType::kInt64, {1, int64_t{1} << 62, 0}, nullptr, nullptr, 0)};
  EXPECT_EQ(GatherInputs({&c, &d}, pad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BatchAssemblyTest, ExtentTracksTheBatchAndRefusesWhatDoesNotFit) {
  std::vector<InputPadding> pad{{true, 0}};
  BatchLimits limits;
  limits.max_elements = 100;
  limits.max_bytes = 1 << 20;
  BatchExtent extent(pad, limits);
  ItemInputs a{Tensor::Allocate(DataType::kFp32, {1, 10}).value()};
  ItemInputs b{Tensor::Allocate(DataType::kFp32, {2, 30}).value()};
  ItemInputs c{Tensor::Allocate(DataType::kFp32, {1, 40}).value()};
  ASSERT_TRUE(extent.Add(a).ok());
  ASSERT_TRUE(extent.Add(b).ok());  // [3, 30] = 90
  EXPECT_EQ(extent.shapes()[0], (Shape{3, 30}));
  absl::Status status = extent.Add(c);  // [4, 40] = 160 > 100
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("[4,40]"), std::string::npos) << status;
  EXPECT_EQ(extent.shapes()[0], (Shape{3, 30}));  // unchanged
  limits.max_bytes = 100;  // bytes: [3, 30] floats = 360
  BatchExtent small(pad, limits);
  EXPECT_TRUE(small.Add(a).ok());  // 40 bytes
  status = small.Add(b);
  EXPECT_NE(status.message().find("more than the limit of 100 bytes"), std::string::npos)
      << status;
}

TEST(BatchAssemblyTest, ItemFootprintCountsZeroSizedPaddedDimensionsAsOne) {
  std::vector<InputPadding> pad{{true, 0}};
  BatchLimits limits;
  limits.max_elements = 1000;
  ItemInputs hostile{Tensor::Allocate(DataType::kInt64, {1, 0, 100000}).value()};
  EXPECT_EQ(CheckItemFootprint(hostile, pad, limits).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckItemFootprint(hostile, {}, limits).ok());  // not padded: nothing to fear
  ItemInputs fine{Tensor::Allocate(DataType::kInt64, {1, 0, 900}).value()};
  EXPECT_TRUE(CheckItemFootprint(fine, pad, limits).ok());
}

}  // namespace
}  // namespace ptserve
