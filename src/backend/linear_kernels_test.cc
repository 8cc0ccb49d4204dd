#include "backend/linear_kernels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/script.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/torchscript_acceleration.h"

namespace ptserve {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMaxRows = 4;

// ptserve::linear's kernel against at::linear: the same error, or the same
// shape, dtype and values (within float summation order when `gemv`), and
// bit for bit at::addmv's (gemv) or at::linear's (not) result.
void ExpectLikeLinear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b,
                      bool gemv) {
  at::Tensor reference;
  try {
    reference = at::linear(x, w, b);
  } catch (const c10::Error&) {
    EXPECT_THROW(LinearWithGemv(x, w, b, kMaxRows), c10::Error);
    return;
  }
  const at::Tensor y = LinearWithGemv(x, w, b, kMaxRows);
  ASSERT_EQ(y.sizes(), reference.sizes());
  EXPECT_EQ(y.scalar_type(), reference.scalar_type());
  EXPECT_EQ(y.device(), reference.device());
  if (!gemv) {
    EXPECT_TRUE(y.equal(reference));
    return;
  }
  EXPECT_TRUE(at::allclose(y, reference, 1e-5, 1e-5));
  const at::Tensor rows = x.reshape({-1, x.size(-1)});
  const at::Tensor y_rows = y.reshape({-1, w.size(0)});
  for (int64_t i = 0; i < rows.size(0); ++i) {
    const at::Tensor expected = b && b->defined() ? at::addmv(*b, w, rows[i]) : at::mv(w, rows[i]);
    EXPECT_TRUE(y_rows[i].equal(expected)) << "row " << i;
  }
}

class LinearWithGemvTest : public ::testing::Test {
 protected:
  void SetUp() override { at::manual_seed(0); }
  at::Tensor w_ = at::randn({24, 40});
  at::Tensor b_ = at::randn({24});
};

TEST_F(LinearWithGemvTest, RowsUpToTheLimitTakeGemv) {
  for (int64_t rows : {int64_t{1}, int64_t{2}, kMaxRows}) {
    SCOPED_TRACE(rows);
    ExpectLikeLinear(at::randn({rows, 40}), w_, b_, /*gemv=*/true);
    ExpectLikeLinear(at::randn({rows, 40}), w_, c10::nullopt, /*gemv=*/true);
  }
}

TEST_F(LinearWithGemvTest, MoreRowsTakeAtLinear) {
  ExpectLikeLinear(at::randn({kMaxRows + 1, 40}), w_, b_, /*gemv=*/false);
  ExpectLikeLinear(at::randn({64, 40}), w_, c10::nullopt, /*gemv=*/false);
}

TEST_F(LinearWithGemvTest, LeadingDimensionsAreRows) {
  ExpectLikeLinear(at::randn({2, 2, 40}), w_, b_, /*gemv=*/true);   // 4 rows
  ExpectLikeLinear(at::randn({2, 3, 40}), w_, b_, /*gemv=*/false);  // 6 rows
  ExpectLikeLinear(at::randn({40}), w_, b_, /*gemv=*/true);         // a vector
  ExpectLikeLinear(at::randn({40}), w_, c10::nullopt, /*gemv=*/true);
  ExpectLikeLinear(at::randn({0, 40}), w_, b_, /*gemv=*/false);  // no rows
}

TEST_F(LinearWithGemvTest, NonContiguousInput) {
  const at::Tensor wide = at::randn({3, 80});
  ExpectLikeLinear(wide.slice(1, 0, 80, 2), w_, b_, /*gemv=*/true);  // strided rows
  ExpectLikeLinear(at::randn({40, 2}).t(), w_, b_, /*gemv=*/true);   // transposed
}

TEST_F(LinearWithGemvTest, OtherDtypesAndLayoutsFallThrough) {
  // bf16 throughout: at::linear's own kernel.
  ExpectLikeLinear(at::randn({1, 40}).to(at::kBFloat16), w_.to(at::kBFloat16), b_.to(at::kBFloat16),
                   /*gemv=*/false);
  // Mixed dtypes: at::linear's error.
  ExpectLikeLinear(at::randn({1, 40}).to(at::kBFloat16), w_, b_, /*gemv=*/false);
  ExpectLikeLinear(at::randint(0, 5, {1, 40}, at::kLong), w_, b_, /*gemv=*/false);
  ExpectLikeLinear(at::randint(0, 5, {1, 40}, at::kLong), at::randint(0, 5, {24, 40}, at::kLong),
                   c10::nullopt, /*gemv=*/false);
  // A non-contiguous weight, or a bias of the wrong length (at::linear's error).
  ExpectLikeLinear(at::randn({1, 40}), at::randn({40, 24}).t(), b_, /*gemv=*/false);
  ExpectLikeLinear(at::randn({1, 40}), w_, at::randn({5}), /*gemv=*/false);
  ExpectLikeLinear(at::randn({1, 41}), w_, b_, /*gemv=*/false);
}

TEST_F(LinearWithGemvTest, AutogradGoesThroughAtLinear) {
  const at::Tensor x = at::randn({1, 40}).requires_grad_();
  LinearWithGemv(x, w_, b_, kMaxRows).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(at::allclose(x.grad(), w_.sum(0).unsqueeze(0), 1e-5, 1e-5));
}

// Two Linear+ReLU layers on parameters (constants once frozen), and one
// Linear on a weight passed in (not a constant).
torch::jit::Module MakeModule() {
  at::manual_seed(1);
  torch::jit::Module m("m");
  // What Python's nn.Module has (the backend takes a module without it as already frozen).
  m.register_attribute("training", c10::BoolType::get(), true);
  m.register_parameter("w1", at::randn({32, 16}), false);
  m.register_parameter("b1", at::randn({32}), false);
  m.register_parameter("w2", at::randn({8, 32}), false);
  m.define(R"(
    def forward(self, x, w3):
        h = torch.relu(torch.linear(x, self.w1, self.b1))
        y = torch.linear(h, self.w2, None)
        return y, torch.linear(x, w3, None)
  )");
  m.eval();
  return m;
}

int CountNodes(const std::shared_ptr<torch::jit::Graph>& graph, const std::string& kind) {
  int n = 0;
  for (torch::jit::Node* node : graph->nodes()) n += node->kind().toQualString() == kind;
  return n;
}

TEST(RewriteLinearsToGemvTest, RewritesOnlyConstantWeightLinears) {
  torch::jit::Module frozen = torch::jit::freeze(MakeModule());
  auto graph = frozen.get_method("forward").graph();
  ASSERT_EQ(CountNodes(graph, "aten::linear"), 3);
  EXPECT_EQ(RewriteLinearsToGemv(graph, kMaxRows), 2);
  EXPECT_EQ(CountNodes(graph, "aten::linear"), 1);
  EXPECT_EQ(CountNodes(graph, kGemvLinearOperator), 2);
  EXPECT_EQ(SetMaxGemvRows(graph, 1), 2);
}

TEST(RewriteLinearsToGemvTest, RewrittenModelAnswersLikeTheOriginal) {
  torch::jit::Module original = MakeModule();
  torch::jit::Module frozen = torch::jit::freeze(original);
  ASSERT_EQ(RewriteLinearsToGemv(frozen.get_method("forward").graph(), kMaxRows), 2);
  c10::InferenceMode inference;
  const at::Tensor w3 = at::randn({4, 16});
  for (int64_t batch : {1, 2, 4, 5, 16}) {
    SCOPED_TRACE(batch);
    const at::Tensor x = at::randn({batch, 16});
    const auto want = original.forward({x, w3}).toTuple();
    const auto got = frozen.forward({x, w3}).toTuple();
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_TRUE(
          at::allclose(got->elements()[i].toTensor(), want->elements()[i].toTensor(), 1e-5, 1e-5));
    }
  }
  // Every call through at::linear.
  ASSERT_EQ(SetMaxGemvRows(frozen.get_method("forward").graph(), 0), 2);
  const at::Tensor x = at::randn({1, 16});
  EXPECT_TRUE(at::allclose(frozen.forward({x, w3}).toTuple()->elements()[0].toTensor(),
                           original.forward({x, w3}).toTuple()->elements()[0].toTensor(), 1e-5,
                           1e-5));
}

absl::StatusOr<AcceleratedModule> AccelerateWith(const std::string& linear_kernel,
                                                 const torch::jit::Module& m) {
  auto options = ParseAccelerationOptions({{"LINEAR_KERNEL", linear_kernel}});
  if (!options.ok()) return options.status();
  options->batched = true;
  at::manual_seed(2);
  return Accelerate(m, *options, {{at::randn({2, 16}), at::randn({4, 16})}});
}

TEST(LinearKernelOptionTest, ParsesAndRejects) {
  auto gemv = ParseAccelerationOptions({{"LINEAR_KERNEL", " gemv "}});
  ASSERT_TRUE(gemv.ok()) << gemv.status();
  EXPECT_EQ(gemv->linear_kernel, LinearKernel::kGemv);
  auto unset = ParseAccelerationOptions({});
  ASSERT_TRUE(unset.ok());
  EXPECT_EQ(unset->linear_kernel, LinearKernel::kAuto);
  auto bad = ParseAccelerationOptions({{"LINEAR_KERNEL", "blas"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("LINEAR_KERNEL"));
  EXPECT_THAT(bad.status().message(), HasSubstr("AUTO, GEMV, DEFAULT"));
  auto unoptimized = ParseAccelerationOptions({{"LINEAR_KERNEL", "GEMV"}, {"OPTIMIZE", "false"}});
  ASSERT_FALSE(unoptimized.ok());
  EXPECT_THAT(unoptimized.status().message(), HasSubstr("OPTIMIZE"));
}

TEST(LinearKernelOptionTest, GemvServesTheRewrittenModule) {
  const torch::jit::Module m = MakeModule();
  auto served = AccelerateWith("GEMV", m);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_THAT(served->description, HasSubstr("gemv Linear (2 layers, batch <= 4"));
  EXPECT_EQ(served->gemv_rows, kForcedGemvRows);
  EXPECT_EQ(CountNodes(served->module.get_method("forward").graph(), kGemvLinearOperator), 2);
  ASSERT_TRUE(served->difference.has_value());
  EXPECT_LT(*served->difference, 1e-5);
  const at::Tensor x = at::randn({1, 16});
  const at::Tensor w3 = at::randn({4, 16});
  torch::jit::Module original = m;
  EXPECT_TRUE(at::allclose(RunAccelerated(*served, {x, w3}).toTuple()->elements()[0].toTensor(),
                           original.forward({x, w3}).toTuple()->elements()[0].toTensor(), 1e-5,
                           1e-5));
}

TEST(LinearKernelOptionTest, DefaultLeavesLinearAlone) {
  auto served = AccelerateWith("DEFAULT", MakeModule());
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_THAT(served->description, Not(HasSubstr("gemv")));
  EXPECT_EQ(CountNodes(served->module.get_method("forward").graph(), kGemvLinearOperator), 0);
}

TEST(LinearKernelOptionTest, AutoDecidesByMeasurement) {
  // Whether gemv wins on this machine is not the test's business; the
  // description must match the graph either way.
  auto served = AccelerateWith("AUTO", MakeModule());
  ASSERT_TRUE(served.ok()) << served.status();
  const int gemv_nodes =
      CountNodes(served->module.get_method("forward").graph(), kGemvLinearOperator);
  EXPECT_EQ(gemv_nodes > 0, served->gemv_rows > 0);
  if (gemv_nodes > 0) {
    EXPECT_THAT(served->description,
                HasSubstr(absl::StrCat("gemv Linear (2 layers, batch <= ", served->gemv_rows)));
  } else {
    EXPECT_THAT(served->description, Not(HasSubstr("gemv")));
  }
}

}  // namespace
}  // namespace ptserve
