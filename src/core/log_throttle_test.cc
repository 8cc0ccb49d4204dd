#include "core/log_throttle.h"

#include <chrono>

#include "gtest/gtest.h"

namespace ptserve {
namespace {

class FakeClock : public Clock {
 public:
  SteadyTime Now() const override { return now; }
  void Advance(int64_t us) { now += std::chrono::microseconds(us); }
  SteadyTime now{};
};

TEST(LogThrottleTest, FirstLineOfEachKeyPassesThenOnePerInterval) {
  FakeClock clock;
  LogThrottle throttle(1'000'000, &clock);
  EXPECT_EQ(throttle.Admit("a"), 0);
  EXPECT_EQ(throttle.Admit("b"), 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(throttle.Admit("a"), std::nullopt);
  clock.Advance(999'999);
  EXPECT_EQ(throttle.Admit("a"), std::nullopt);
  clock.Advance(1);
  EXPECT_EQ(throttle.Admit("a"), 6);  // the six left out are counted on the next line
  EXPECT_EQ(throttle.Admit("a"), std::nullopt);
  clock.Advance(1'000'000);
  EXPECT_EQ(throttle.Admit("a"), 1);
  EXPECT_EQ(throttle.Admit("b"), 0);  // b's interval ran out with nothing left out
}

TEST(LogThrottleTest, KeyTableIsBounded) {
  FakeClock clock;
  LogThrottle throttle(1'000'000, &clock, /*max_keys=*/3);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(throttle.Admit(std::to_string(i)), 0);
  // Cleared when full: at most one extra line per key, never unbounded memory.
  EXPECT_EQ(throttle.Admit("99"), std::nullopt);
}

TEST(LogThrottleTest, ZeroIntervalLetsEverythingThrough) {
  FakeClock clock;
  LogThrottle throttle(0, &clock);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(throttle.Admit("a"), 0);
}

}  // namespace
}  // namespace ptserve
