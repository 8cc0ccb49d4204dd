#include "core/fake_clock.h"

#include <atomic>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using namespace std::chrono_literals;

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock;
  EXPECT_EQ(clock.Now(), FakeClock::kDefaultStart);
  EXPECT_EQ(clock.Now(), clock.Now());
  clock.Advance(1500);
  EXPECT_EQ(clock.Now(), FakeClock::kDefaultStart + 1500us);
  clock.Advance(2ms);
  EXPECT_EQ(clock.Now(), FakeClock::kDefaultStart + 3500us);
  const SteadyTime t = SteadyTime(std::chrono::hours(5));
  clock.SetNow(t);
  EXPECT_EQ(clock.Now(), t);
  clock.Advance(std::numeric_limits<int64_t>::max());  // saturates
  EXPECT_EQ(clock.Now(), SteadyTime::max());
}

TEST(FakeClockTest, AWaitWithADeadlineAlreadyPassedReturnsAtOnce) {
  FakeClock clock;
  Mutex mu;
  CondVar cv;
  MutexLock lock(mu);
  EXPECT_FALSE(clock.WaitUntil(cv, mu, clock.Now()));
  EXPECT_FALSE(clock.WaitUntil(cv, mu, clock.Now() - 1us));
  EXPECT_EQ(clock.waiters(), 0u);
}

// A thread waits until a fake deadline, as the scheduler does: in a loop that
// re-checks, and finishes only once the clock reaches the deadline.
class Sleeper {
 public:
  Sleeper(FakeClock* clock, SteadyTime deadline)
      : clock_(clock), deadline_(deadline), thread_([this] { Run(); }) {}
  ~Sleeper() { thread_.join(); }
  bool done() const { return done_.HasBeenNotified(); }
  bool WaitDone(absl::Duration d) const { return done_.WaitForNotificationWithTimeout(d); }
  int timeouts() const { return timeouts_.load(); }

 private:
  void Run() {
    MutexLock lock(mu_);
    while (clock_->Now() < deadline_) {
      if (!clock_->WaitUntil(cv_, mu_, deadline_)) timeouts_.fetch_add(1);
    }
    done_.Notify();
  }
  FakeClock* clock_;
  const SteadyTime deadline_;
  Mutex mu_;
  CondVar cv_;
  std::atomic<int> timeouts_{0};
  absl::Notification done_;
  std::thread thread_;
};

TEST(FakeClockTest, AdvanceWakesAWaiterWhoseDeadlineItCrosses) {
  FakeClock clock;
  Sleeper sleeper(&clock, clock.Now() + 100ms);
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(99'999);
  // The waiter has looked at the new time and is waiting again.
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_FALSE(sleeper.done());
  clock.Advance(1);
  // Generous real-time bound: only a hang fails it (a missed wake-up is
  // caught by the poll within milliseconds).
  EXPECT_TRUE(sleeper.WaitDone(absl::Seconds(30)));
  EXPECT_EQ(sleeper.timeouts(), 1);
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(FakeClockTest, SetNowWakesWaitersToo) {
  FakeClock clock;
  Sleeper a(&clock, clock.Now() + 1s);
  Sleeper b(&clock, clock.Now() + 2s);
  ASSERT_TRUE(clock.WaitForWaiters(2));
  clock.SetNow(FakeClock::kDefaultStart + 1s);
  EXPECT_TRUE(a.WaitDone(absl::Seconds(30)));
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_FALSE(b.done());
  clock.SetNow(FakeClock::kDefaultStart + 5s);
  EXPECT_TRUE(b.WaitDone(absl::Seconds(30)));
}

TEST(FakeClockTest, ANotificationEndsTheWaitBeforeTheDeadline) {
  FakeClock clock;
  Mutex mu;
  CondVar cv;
  bool go = false;
  std::thread waiter([&] {
    MutexLock lock(mu);
    while (!go) EXPECT_TRUE(clock.WaitUntil(cv, mu, SteadyTime::max()));
  });
  ASSERT_TRUE(clock.WaitForWaiters(1));
  {
    MutexLock lock(mu);
    go = true;
  }
  cv.NotifyAll();
  waiter.join();
  EXPECT_EQ(clock.Now(), FakeClock::kDefaultStart);  // no time passed
}

TEST(FakeClockTest, WaitForWaitersGivesUp) {
  FakeClock clock;
  EXPECT_FALSE(clock.WaitForWaiters(1, 1ms));
  EXPECT_TRUE(clock.WaitForWaiters(0, 1ms));
}

// Many small steps against many waiters: none is left behind (a missed
// wake-up would hang the join).
TEST(FakeClockTest, NoWakeUpIsMissedUnderRacingAdvances) {
  FakeClock clock;
  constexpr int kWaiters = 4;
  std::vector<std::unique_ptr<Sleeper>> sleepers;
  for (int i = 0; i < kWaiters; ++i) {
    sleepers.push_back(std::make_unique<Sleeper>(&clock, clock.Now() + (i + 1) * 50us));
  }
  for (int step = 0; step < 200; ++step) clock.Advance(1);
  for (auto& s : sleepers) EXPECT_TRUE(s->WaitDone(absl::Seconds(30)));
  sleepers.clear();
  EXPECT_EQ(clock.waiters(), 0u);
}

}  // namespace
}  // namespace ptserve
