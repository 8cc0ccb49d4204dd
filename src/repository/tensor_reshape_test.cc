#include "repository/tensor_reshape.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace ptserve {
namespace {

Tensor Floats(Shape shape) { return *Tensor::Allocate(DataType::kFp32, std::move(shape)); }

TEST(ReshapeTest, KeepsTheBatchDimensionAndTheData) {
  Tensor t = Floats({3, 12});
  const uint8_t* data = t.data();
  absl::StatusOr<Tensor> r = Reshape(t, {3, 2, 2}, /*batched=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->shape(), (Shape{3, 3, 2, 2}));
  EXPECT_EQ(r->data(), data);  // no copy
}

TEST(ReshapeTest, ResolvesOneVariableDimension) {
  absl::StatusOr<Tensor> r = Reshape(Floats({2, 5, 4}), {-1, 2}, /*batched=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->shape(), (Shape{2, 10, 2}));
  r = Reshape(Floats({1}), {}, /*batched=*/false);  // Triton's scalar: dims [1], reshape []
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->shape(), Shape{});
}

TEST(ReshapeTest, RefusesADifferentElementCount) {
  absl::StatusOr<Tensor> r = Reshape(Floats({2, 6}), {5}, /*batched=*/true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("cannot reshape"), std::string::npos);
  EXPECT_FALSE(Reshape(Floats({2, 7}), {-1, 2}, true).ok());
  EXPECT_FALSE(Reshape(Floats({2, 4}), {-1, -1}, true).ok());
  EXPECT_FALSE(Reshape(Floats({}), {1}, true).ok());
}

TEST(ReshapeTest, AnEmptyBatchStaysEmpty) {
  absl::StatusOr<Tensor> r = Reshape(Floats({0, 6}), {2, 3}, /*batched=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->shape(), (Shape{0, 2, 3}));
}

// Records the shapes it was given; answers with a [batch, 6] output.
class ShapeRecorder : public ModelInstance {
 public:
  explicit ShapeRecorder(std::vector<Shape>* seen) : seen_(seen) {}
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    for (const Tensor& t : inputs) seen_->push_back(t.shape());
    return std::vector<Tensor>{Floats({inputs[0].shape()[0], 6})};
  }

 private:
  std::vector<Shape>* seen_;
};

class FakeModel : public LoadedModel {
 public:
  FakeModel(std::vector<TensorSpec> in, std::vector<TensorSpec> out, std::vector<Shape>* seen)
      : in_(std::move(in)), out_(std::move(out)), seen_(seen) {}
  const std::vector<TensorSpec>& inputs() const override { return in_; }
  const std::vector<TensorSpec>& outputs() const override { return out_; }
  const std::vector<std::string>& notes() const override { return notes_; }
  absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(const InstanceOptions&) override {
    return std::unique_ptr<ModelInstance>(new ShapeRecorder(seen_));
  }

 private:
  std::vector<TensorSpec> in_, out_;
  std::vector<std::string> notes_;
  std::vector<Shape>* seen_;
};

TEST(ReshapeModelTest, InstancesSeeModelShapesAndClientsSeeConfigShapes) {
  TensorSpec in{"x", DataType::kFp32, {4}};
  TensorSpec out{"y", DataType::kFp32, {3, 2}};
  TensorReshapes r;
  r.inputs = {Shape{2, 2}};
  r.outputs = {Shape{6}};
  std::vector<Shape> seen;
  auto inner = std::make_shared<FakeModel>(ModelSideSpecs({in}, r.inputs),
                                           ModelSideSpecs({out}, r.outputs), &seen);
  EXPECT_EQ(inner->inputs()[0].dims, (Shape{2, 2}));
  std::shared_ptr<LoadedModel> model = ReshapeModel(inner, {in}, {out}, r, /*batched=*/true);
  EXPECT_EQ(model->inputs()[0].dims, (Shape{4}));
  EXPECT_EQ(model->outputs()[0].dims, (Shape{3, 2}));
  auto instance = model->CreateInstance({});
  ASSERT_TRUE(instance.ok());
  model.reset();  // instances outlive the model
  inner.reset();
  absl::StatusOr<std::vector<Tensor>> y = (*instance)->Execute({Floats({5, 4})});
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (Shape{5, 2, 2}));
  EXPECT_EQ((*y)[0].shape(), (Shape{5, 3, 2}));
}

TEST(ReshapeModelTest, NoReshapeReturnsTheModelItself) {
  std::vector<Shape> seen;
  auto inner = std::make_shared<FakeModel>(std::vector<TensorSpec>{}, std::vector<TensorSpec>{},
                                           &seen);
  TensorReshapes none;
  none.inputs = {std::nullopt};
  EXPECT_EQ(ReshapeModel(inner, {}, {}, none, true).get(), inner.get());
}

}  // namespace
}  // namespace ptserve
