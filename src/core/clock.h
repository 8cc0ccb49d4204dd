// Clock: an injectable monotonic clock, so the batcher and the poller can be
// tested with a fake one (STYLE.md: "time is injectable").
//
// Time arithmetic on time points saturates: a deadline "now + timeout" for a
// huge timeout is SteadyTime::max() (never), not a wrapped-around time in
// the past.
#ifndef PTSERVE_CORE_CLOCK_H_
#define PTSERVE_CORE_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace ptserve {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
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
