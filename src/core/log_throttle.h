// LogThrottle: at most one log line per key per interval. Under overload every rejected request
// would otherwise write a warning (thousands a second, each a synchronous write), which costs the
// CPU the server is short of and buries everything else in the log. The first event of a key is
// always let through; later ones within the interval are counted, and the next line let through
// says how many were left out.
#ifndef PTSERVE_CORE_LOG_THROTTLE_H_
#define PTSERVE_CORE_LOG_THROTTLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/clock.h"

namespace ptserve {

class LogThrottle {
 public:
  // At most `max_keys` keys are remembered (keys come from model names and statuses, so they are
  // few; past the bound the table is cleared, which lets one extra line per key through).
  explicit LogThrottle(int64_t interval_us, const Clock* clock = Clock::Real(),
                       size_t max_keys = 4096);

  // nullopt: leave this line out. Otherwise log it, with the returned number of lines of this key
  // left out since the last one logged (0 when none).
  std::optional<int64_t> Admit(std::string_view key);

 private:
  struct Entry {
    SteadyTime last;
    int64_t suppressed = 0;
  };
  const int64_t interval_us_;
  const Clock* clock_;
  const size_t max_keys_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptserve

#endif  // PTSERVE_CORE_LOG_THROTTLE_H_
