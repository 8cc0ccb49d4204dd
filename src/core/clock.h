// Clock: an injectable monotonic clock, so the batcher and the poller can be
// tested with a fake one (STYLE.md: "time is injectable"; core/fake_clock.h).
// Timed waits go through the clock too (Clock::WaitUntil), so that a test
// advances time instead of sleeping.
//
// Time arithmetic on time points saturates: a deadline "now + timeout" for a
// huge timeout is SteadyTime::max() (never), not a wrapped-around time in
// the past.
#ifndef PTSERVE_CORE_CLOCK_H_
#define PTSERVE_CORE_CLOCK_H_

#include <chrono>
#include <cstdint>

#include "core/mutex.h"

namespace ptserve {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
  // Waits on `cv` (releasing `mu` meanwhile, as CondVar::WaitUntil) until it
  // is notified or this clock reaches `deadline`. False when the deadline
  // passed; true when woken before it (notified, or spuriously: callers
  // re-check their condition in a loop, as around any wait). The default is
  // a real-time wait (right for clocks that follow steady_clock); a clock
  // with its own time (FakeClock) overrides it.
  virtual bool WaitUntil(CondVar& cv, Mutex& mu, SteadyTime deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return cv.WaitUntil(mu, deadline);
  }
  // The process-wide real clock. Never null, never destroyed.
  static Clock* Real();
};

// Microseconds from `from` to `to`, saturating at the int64 range (the
// difference of two far-apart time points does not overflow).
int64_t MicrosBetween(SteadyTime from, SteadyTime to);

// `time` + `micros` microseconds, saturating at SteadyTime::min()/max()
// (a negative `micros` moves back). Never overflows, whatever the inputs.
SteadyTime SaturatingAddMicros(SteadyTime time, int64_t micros);

}  // namespace ptserve

#endif  // PTSERVE_CORE_CLOCK_H_
