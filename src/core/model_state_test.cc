#include "core/model_state.h"

#include "gtest/gtest.h"

namespace ptserve {
namespace {

TEST(ModelStateTest, NamesRoundTrip) {
  for (int i = 0; i < kModelStateCount; ++i) {
    const auto state = static_cast<ModelState>(i);
    EXPECT_EQ(ParseModelState(ModelStateName(state)), state);
  }
  EXPECT_STREQ(ModelStateName(ModelState::kReady), "READY");
  EXPECT_FALSE(ParseModelState("ready").has_value());
  EXPECT_FALSE(ParseModelState("").has_value());
}

TEST(ModelStateTest, Transitions) {
  using S = ModelState;
  // The life of a version.
  EXPECT_TRUE(IsAllowedTransition(S::kUnloaded, S::kLoading));
  EXPECT_TRUE(IsAllowedTransition(S::kLoading, S::kReady));
  EXPECT_TRUE(IsAllowedTransition(S::kLoading, S::kUnavailable));
  EXPECT_TRUE(IsAllowedTransition(S::kReady, S::kLoading));         // a reload
  EXPECT_TRUE(IsAllowedTransition(S::kReady, S::kReady));           // a reload that keeps serving
  EXPECT_TRUE(IsAllowedTransition(S::kUnavailable, S::kLoading));   // tried again
  EXPECT_TRUE(IsAllowedTransition(S::kUnloaded, S::kUnavailable));  // a bad config
  for (int i = 0; i < kModelStateCount; ++i) {
    EXPECT_TRUE(IsAllowedTransition(static_cast<S>(i), S::kUnloaded));
  }
  // Never without a load.
  EXPECT_FALSE(IsAllowedTransition(S::kUnloaded, S::kReady));
  EXPECT_FALSE(IsAllowedTransition(S::kUnavailable, S::kReady));
  EXPECT_FALSE(IsAllowedTransition(S::kReady, S::kUnavailable));
}

}  // namespace
}  // namespace ptserve
