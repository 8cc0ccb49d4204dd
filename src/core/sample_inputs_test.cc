#include "core/sample_inputs.h"

#include "gtest/gtest.h"

namespace ptserve {
namespace {

int64_t Eight(const TensorSpec&, size_t) { return 8; }

TEST(SampleInputsTest, ValuesByType) {
  std::mt19937 rng(42);
  Tensor f = SampleTensor(DataType::kFp32, {64}, true, rng).value();
  const float* fp = reinterpret_cast<const float*>(f.data());
  bool varied = false;
  for (int i = 0; i < 64; ++i) {
    EXPECT_GE(fp[i], 0.f);
    EXPECT_LT(fp[i], 1.f);
    if (fp[i] != fp[0]) varied = true;
  }
  EXPECT_TRUE(varied);
  Tensor ids = SampleTensor(DataType::kInt64, {3}, true, rng).value();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(reinterpret_cast<const int64_t*>(ids.data())[i], 1);
  Tensor zeros = SampleTensor(DataType::kFp32, {3}, false, rng).value();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(reinterpret_cast<const float*>(zeros.data())[i], 0.f);
  Tensor flags = SampleTensor(DataType::kBool, {3}, true, rng).value();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(flags.data()[i], 0);
}

TEST(SampleInputsTest, ShapesFromSpecs) {
  std::mt19937 rng(1);
  std::vector<TensorSpec> specs{{.name = "ids", .dtype = DataType::kInt64, .dims = {-1}},
                                {.name = "x", .dtype = DataType::kFp16, .dims = {3, -1}}};
  auto batched = SampleInputs(specs, 2, Eight, rng).value();
  ASSERT_EQ(batched.size(), 2u);
  EXPECT_EQ(batched[0].shape(), (Shape{2, 8}));
  EXPECT_EQ(batched[1].shape(), (Shape{2, 3, 8}));
  EXPECT_EQ(batched[1].dtype(), DataType::kFp16);
  auto unbatched = SampleInputs(
                       specs, 0,
                       [](const TensorSpec& s, size_t d) {
                         return s.name == "x" && d == 1 ? int64_t{5} : int64_t{4};
                       },
                       rng)
                       .value();
  EXPECT_EQ(unbatched[0].shape(), (Shape{4}));
  EXPECT_EQ(unbatched[1].shape(), (Shape{3, 5}));
}

TEST(SampleInputsTest, NothingToGenerateFromAnUnknownShape) {
  std::mt19937 rng(1);
  std::vector<TensorSpec> specs{{.name = "x", .dims = {4}},
                                {.name = "y", .dims = {}, .any_shape = true}};
  EXPECT_TRUE(SampleInputs(specs, 1, Eight, rng).value().empty());
}

TEST(SampleInputsTest, HostileShapesFailCleanly) {
  std::mt19937 rng(1);
  std::vector<TensorSpec> specs{{.name = "x", .dims = {int64_t{1} << 40, int64_t{1} << 40}}};
  EXPECT_FALSE(SampleInputs(specs, 2, Eight, rng).ok());
}

}  // namespace
}  // namespace ptserve
