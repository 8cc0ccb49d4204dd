#include "core/log_throttle.h"

namespace ptserve {

LogThrottle::LogThrottle(int64_t interval_us, const Clock* clock, size_t max_keys)
    : interval_us_(interval_us), clock_(clock), max_keys_(max_keys) {}

std::optional<int64_t> LogThrottle::Admit(std::string_view key) {
  const SteadyTime now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(absl::string_view(key.data(), key.size()));
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_) entries_.clear();
    entries_.emplace(std::string(key), Entry{now, 0});
    return 0;
  }
  Entry& e = it->second;
  if (MicrosBetween(e.last, now) < interval_us_) {
    ++e.suppressed;
    return std::nullopt;
  }
  const int64_t left_out = e.suppressed;
  e = Entry{now, 0};
  return left_out;
}

}  // namespace ptserve
