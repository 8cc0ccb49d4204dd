// Clock: an injectable monotonic clock, so the batcher and the poller can be
// tested with a fake one (STYLE.md: "time is injectable").
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

inline int64_t MicrosBetween(SteadyTime from, SteadyTime to) {
  return std::chrono::duration_cast<std::chrono::microseconds>(to - from).count();
}

}  // namespace ptserve

#endif  // PTSERVE_CORE_CLOCK_H_
