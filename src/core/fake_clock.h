// FakeClock: a Clock for tests whose time moves only when the test says so
// (Advance, SetNow), so that code which waits through its Clock (the
// scheduler, the repository poller) is tested without sleeping and without
// asserting on wall-clock bounds. Test-only (library ptserve_core_testing).
//
//   FakeClock clock;
//   SchedulerOptions options;
//   options.clock = &clock;
//   ...                                // enqueue a request; the batch waits
//   ASSERT_TRUE(clock.WaitForWaiters(1));  // the worker is parked on its deadline
//   clock.Advance(options.max_queue_delay_us);  // and now it runs
//
// WaitUntil never misses a wake-up: Advance/SetNow notify the condition
// variable of every thread in a fake wait, and a wait also returns after
// kPoll of real time (a spurious wake-up: the caller re-checks, which covers
// a notification sent between its check and its blocking). Thread-safe.
#ifndef PTSERVE_CORE_FAKE_CLOCK_H_
#define PTSERVE_CORE_FAKE_CLOCK_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>

#include "core/clock.h"
#include "core/mutex.h"

namespace ptserve {

class FakeClock final : public Clock {
 public:
  // Where a FakeClock starts by default: a fixed, arbitrary time point.
  static constexpr SteadyTime kDefaultStart = SteadyTime(std::chrono::seconds(1000));
  // The longest a WaitUntil blocks, in real time, before it returns (true,
  // spuriously) for its caller to look again (a fallback: Advance notifies
  // waiters directly).
  static constexpr std::chrono::milliseconds kPoll{1};

  explicit FakeClock(SteadyTime start = kDefaultStart) : now_(start) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  SteadyTime Now() const override ABSL_LOCKS_EXCLUDED(mu_);

  // Moves time on by `micros` (saturating; a negative value moves it back)
  // and wakes every thread in a fake wait.
  void Advance(int64_t micros) ABSL_LOCKS_EXCLUDED(mu_);
  void Advance(std::chrono::microseconds d) ABSL_LOCKS_EXCLUDED(mu_) { Advance(d.count()); }
  // Sets the time and wakes every thread in a fake wait.
  void SetNow(SteadyTime now) ABSL_LOCKS_EXCLUDED(mu_);

  // False when the fake time has reached `deadline`; true otherwise: `cv`
  // was notified (Advance's own notifications included) or kPoll of real
  // time passed, and the caller looks at its condition and the clock again.
  bool WaitUntil(CondVar& cv, Mutex& mu, SteadyTime deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until at least `n` threads are blocked in a WaitUntil that began
  // at the current fake time (so after an Advance, a thread counts again
  // only once its caller has looked at the new time and gone back to
  // waiting). False when `real_timeout` (real time) passes first.
  bool WaitForWaiters(size_t n, std::chrono::milliseconds real_timeout = std::chrono::seconds(30))
      ABSL_LOCKS_EXCLUDED(mu_);
  // Threads in WaitUntil now (whether or not they have read the current time).
  size_t waiters() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiter {
    CondVar* cv;
    uint64_t seen;  // generation_ when the wait began
  };
  void SetNowLocked(SteadyTime now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t CurrentWaiters() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  CondVar changed_;  // WaitForWaiters: waiters_ changed
  SteadyTime now_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by every Advance/SetNow
  std::list<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptserve

#endif  // PTSERVE_CORE_FAKE_CLOCK_H_
