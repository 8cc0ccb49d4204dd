#include "core/mutex.h"

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ptserve {
namespace {

using namespace std::chrono_literals;

// A counter guarded by an annotated mutex (scripts/thread_safety.sh checks this file with clang's
// -Wthread-safety: an access without the lock would not compile there).
class Counter {
 public:
  void Add(int n) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    value_ += n;
    if (value_ >= target_) reached_.NotifyAll();
  }
  // Waits until the value reaches `target` or `deadline` passes; the value then.
  int WaitFor(int target, std::chrono::steady_clock::time_point deadline) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    target_ = target;
    while (value_ < target && reached_.WaitUntil(mu_, deadline)) {
    }
    return value_;
  }
  int value() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    return value_;
  }
  // Unlock/Lock inside a scope: the value read after re-locking sees other threads' adds.
  int AddAroundUnlocked(int n, const std::function<void()>& unlocked) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    value_ += n;
    lock.Unlock();
    unlocked();
    lock.Lock();
    return value_;
  }

 private:
  Mutex mu_;
  CondVar reached_;
  int value_ ABSL_GUARDED_BY(mu_) = 0;
  int target_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(MutexTest, ThreadsAddUnderTheLockAndAWaiterWakes) {
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < 1000; ++i) counter.Add(1);
    });
  }
  EXPECT_EQ(counter.WaitFor(4000, std::chrono::steady_clock::now() + 30s), 4000);
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), 4000);
}

TEST(MutexTest, WaitUntilReturnsAtTheDeadlineWithTheLockHeld) {
  Counter counter;
  counter.Add(1);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(counter.WaitFor(2, start + 20ms), 1);
  EXPECT_GE(std::chrono::steady_clock::now(), start + 20ms);
  counter.Add(1);  // the lock was given back: this does not deadlock
  EXPECT_EQ(counter.value(), 2);
}

TEST(MutexTest, MutexLockCanBeReleasedAndRetakenInItsScope) {
  Counter counter;
  const int seen = counter.AddAroundUnlocked(1, [&counter] { counter.Add(10); });
  EXPECT_EQ(seen, 11);
}

}  // namespace
}  // namespace ptserve
