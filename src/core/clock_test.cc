#include "core/clock.h"

#include <limits>

#include "gtest/gtest.h"

namespace ptserve {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(ClockTest, SaturatingAddMicrosAddsSmallValues) {
  const SteadyTime t = Clock::Real()->Now();
  EXPECT_EQ(SaturatingAddMicros(t, 1500), t + std::chrono::microseconds(1500));
  EXPECT_EQ(SaturatingAddMicros(t, -1500), t - std::chrono::microseconds(1500));
  EXPECT_EQ(SaturatingAddMicros(t, 0), t);
}

TEST(ClockTest, SaturatingAddMicrosNeverWrapsAround) {
  const SteadyTime t = Clock::Real()->Now();
  // int64 microseconds overflow int64 nanoseconds: the deadline is "never".
  EXPECT_EQ(SaturatingAddMicros(t, kMax), SteadyTime::max());
  EXPECT_EQ(SaturatingAddMicros(t, kMax / 1000 + 1), SteadyTime::max());
  EXPECT_EQ(SaturatingAddMicros(t, kMin), SteadyTime::min());
  EXPECT_EQ(SaturatingAddMicros(SteadyTime::max(), 1), SteadyTime::max());
  EXPECT_EQ(SaturatingAddMicros(SteadyTime::min(), -1), SteadyTime::min());
  // Fits the multiplication but not the addition.
  EXPECT_EQ(SaturatingAddMicros(SteadyTime::max() - std::chrono::seconds(1), 2'000'000),
            SteadyTime::max());
  EXPECT_GT(SaturatingAddMicros(t, kMax / 2000), t);
}

TEST(ClockTest, MicrosBetweenSaturates) {
  const SteadyTime t = Clock::Real()->Now();
  EXPECT_EQ(MicrosBetween(t, t + std::chrono::milliseconds(3)), 3000);
  EXPECT_EQ(MicrosBetween(t + std::chrono::milliseconds(3), t), -3000);
  EXPECT_EQ(MicrosBetween(SteadyTime::min(), SteadyTime::max()), kMax);
  EXPECT_EQ(MicrosBetween(SteadyTime::max(), SteadyTime::min()), kMin);
  EXPECT_GT(MicrosBetween(t, SteadyTime::max()), 0);
}

}  // namespace
}  // namespace ptserve
