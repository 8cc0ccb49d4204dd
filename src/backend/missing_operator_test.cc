#include "backend/missing_operator.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MissingOperatorTest, NamesTheOperatorOfTorchScriptsError) {
  // As libtorch 1.13 and 2.6 word it (the first line of the load error).
  EXPECT_EQ(MissingOperator("cannot load /m/1/model.pt: Unknown builtin op: torchvision::nms.\n"
                            "Could not find any similar ops to torchvision::nms. This op may "
                            "not exist or may not be currently supported in TorchScript."),
            "torchvision::nms");
  EXPECT_EQ(MissingOperator("Unknown builtin op: my_ops::fused_gelu"), "my_ops::fused_gelu");
  EXPECT_EQ(MissingOperator("Unknown builtin op: aten::scaled_dot_product_attention."),
            "aten::scaled_dot_product_attention");
  EXPECT_EQ(MissingOperator("cannot load /m/1/model.pt: PytorchStreamReader failed"), "");
  EXPECT_EQ(MissingOperator(""), "");
}

TEST(MissingOperatorTest, LibtorchNamespacesAreNotLibraries) {
  EXPECT_TRUE(IsLibtorchOperator("aten::add"));
  EXPECT_TRUE(IsLibtorchOperator("prim::Constant"));
  EXPECT_TRUE(IsLibtorchOperator("quantized::linear_dynamic"));
  EXPECT_FALSE(IsLibtorchOperator("torchvision::nms"));
  EXPECT_FALSE(IsLibtorchOperator("my_ops::fused_gelu"));
  EXPECT_FALSE(IsLibtorchOperator("atenx::add"));
}

TEST(MissingOperatorTest, TorchvisionAdviceNamesThePackageAndTheFlag) {
  const std::string advice = MissingOperatorAdvice("torchvision::roi_align");
  EXPECT_THAT(advice, HasSubstr("torchvision::roi_align"));
  EXPECT_THAT(advice, HasSubstr("install python3-torchvision"));
  EXPECT_THAT(advice, HasSubstr("--operator-library"));
}

TEST(MissingOperatorTest, OtherLibrariesAreNamedByTheirNamespace) {
  const std::string advice = MissingOperatorAdvice("my_ops::fused_gelu");
  EXPECT_THAT(advice, HasSubstr("my_ops::fused_gelu"));
  EXPECT_THAT(advice, HasSubstr("TORCH_LIBRARY(my_ops"));
  EXPECT_THAT(advice, HasSubstr("--operator-library"));
  EXPECT_THAT(advice, HasSubstr("OPERATOR_LIBRARIES"));
  EXPECT_THAT(advice, Not(HasSubstr("torchvision")));
}

}  // namespace
}  // namespace ptserve
