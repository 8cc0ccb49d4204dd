#include "core/tensor.h"

#include <gtest/gtest.h>

namespace ptserve {
namespace {

TEST(TensorTest, AllocateIsZeroedAndWritable) {
  Tensor t = Tensor::Allocate(DataType::kFp32, {2, 3}).value();
  EXPECT_EQ(t.byte_size(), 24u);
  EXPECT_EQ(t.element_count(), 6);
  ASSERT_NE(t.mutable_data(), nullptr);
  for (size_t i = 0; i < t.byte_size(); ++i) EXPECT_EQ(t.data()[i], 0);
}

TEST(TensorTest, ViewKeepsOwnerAlive) {
  auto body = std::make_shared<std::string>("abcdefgh");
  std::weak_ptr<std::string> weak = body;
  Tensor t = Tensor::View(DataType::kUint8, {4}, body,
                          reinterpret_cast<const uint8_t*>(body->data()) + 2, 4);
  body.reset();
  ASSERT_FALSE(weak.expired());
  EXPECT_EQ(t.data()[0], 'c');
  EXPECT_EQ(t.mutable_data(), nullptr);
  t = Tensor();
  EXPECT_TRUE(weak.expired());
}

TEST(TensorTest, ElementCountRejectsOverflowAndNegative) {
  EXPECT_EQ(ElementCount({2, 3, 4}).value(), 24);
  EXPECT_EQ(ElementCount({}).value(), 1);
  EXPECT_EQ(ElementCount({0, -1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ElementCount({1LL << 40, 1LL << 40}).ok());
  EXPECT_FALSE(ElementCount({100, 100}, 9999).ok());
  EXPECT_FALSE(Tensor::Allocate(DataType::kFp64, {1LL << 61}).ok());
  EXPECT_FALSE(Tensor::Allocate(DataType::kBytes, {1}).ok());
}

TEST(TensorTest, ShapeToString) { EXPECT_EQ(ShapeToString({1, 3, 224}), "[1,3,224]"); }

}  // namespace
}  // namespace ptserve
