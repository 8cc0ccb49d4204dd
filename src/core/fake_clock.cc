#include "core/fake_clock.h"

#include <algorithm>

namespace ptserve {

SteadyTime FakeClock::Now() const {
  MutexLock lock(mu_);
  return now_;
}

void FakeClock::Advance(int64_t micros) {
  MutexLock lock(mu_);
  SetNowLocked(SaturatingAddMicros(now_, micros));
}

void FakeClock::SetNow(SteadyTime now) {
  MutexLock lock(mu_);
  SetNowLocked(now);
}

void FakeClock::SetNowLocked(SteadyTime now) {
  now_ = now;
  ++generation_;
  // Under mu_: a waiter removes itself (under mu_) before its cv can go away.
  for (const Waiter& w : waiters_) w.cv->NotifyAll();
  changed_.NotifyAll();
}

bool FakeClock::WaitUntil(CondVar& cv, Mutex& mu, SteadyTime deadline) {
  std::list<Waiter>::iterator self;
  {
    MutexLock lock(mu_);
    if (now_ >= deadline) return false;
    self = waiters_.insert(waiters_.end(), Waiter{&cv, generation_});
    changed_.NotifyAll();
  }
  // Returns after at most kPoll of real time even when nothing happened (a
  // spurious wake-up for the caller, which looks at its condition and the
  // clock again): an Advance between the check above and this wait notifies
  // too early to be seen. (One wait per call: looping here on a poll would
  // lose a notification the caller's notifier sent between two waits.)
  cv.WaitUntil(mu, std::chrono::steady_clock::now() + kPoll);
  MutexLock lock(mu_);
  waiters_.erase(self);
  changed_.NotifyAll();
  return now_ < deadline;
}

size_t FakeClock::CurrentWaiters() const {
  const uint64_t now = generation_;
  return static_cast<size_t>(std::count_if(waiters_.begin(), waiters_.end(),
                                           [now](const Waiter& w) { return w.seen == now; }));
}

bool FakeClock::WaitForWaiters(size_t n, std::chrono::milliseconds real_timeout) {
  const auto give_up = std::chrono::steady_clock::now() + real_timeout;
  MutexLock lock(mu_);
  while (CurrentWaiters() < n) {
    if (!changed_.WaitUntil(mu_, give_up) && CurrentWaiters() < n) return false;
  }
  return true;
}

size_t FakeClock::waiters() const {
  MutexLock lock(mu_);
  return waiters_.size();
}

}  // namespace ptserve
