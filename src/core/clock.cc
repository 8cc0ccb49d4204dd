#include "core/clock.h"

#include <limits>
#include <type_traits>

namespace ptserve {
namespace {
class RealClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
};

using Rep = SteadyTime::duration::rep;  // int64 nanoseconds
static_assert(std::is_same_v<Rep, int64_t>);

// Ticks of SteadyTime::duration per microsecond (1000 for nanoseconds).
constexpr int64_t kTicksPerMicro =
    std::chrono::duration_cast<SteadyTime::duration>(std::chrono::microseconds(1)).count();
static_assert(kTicksPerMicro >= 1);
}  // namespace

Clock* Clock::Real() {
  static RealClock* clock = new RealClock();
  return clock;
}

int64_t MicrosBetween(SteadyTime from, SteadyTime to) {
  const Rep a = from.time_since_epoch().count();
  const Rep b = to.time_since_epoch().count();
  Rep diff;
  if (__builtin_sub_overflow(b, a, &diff)) {
    return b > a ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyTime::duration(diff)).count();
}

SteadyTime SaturatingAddMicros(SteadyTime time, int64_t micros) {
  Rep ticks;
  if (__builtin_mul_overflow(micros, kTicksPerMicro, &ticks)) {
    return micros > 0 ? SteadyTime::max() : SteadyTime::min();
  }
  Rep sum;
  if (__builtin_add_overflow(time.time_since_epoch().count(), ticks, &sum)) {
    return ticks > 0 ? SteadyTime::max() : SteadyTime::min();
  }
  return SteadyTime(SteadyTime::duration(sum));
}

}  // namespace ptserve
