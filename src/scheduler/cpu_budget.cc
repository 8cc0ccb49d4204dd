#include "scheduler/cpu_budget.h"

#include <algorithm>

namespace ptserve {

int CpuBudget::Acquire(int n) {
  n = std::clamp(n, 1, capacity_);
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t ticket = next_ticket_++;
  cv_.wait(lock, [&] { return ticket == now_serving_ && free_ >= n; });
  free_ -= n;
  ++now_serving_;
  lock.unlock();
  cv_.notify_all();  // the next ticket may fit too
  return n;
}

int CpuBudget::TryAcquire(int n) {
  n = std::clamp(n, 1, capacity_);
  std::lock_guard<std::mutex> lock(mu_);
  if (next_ticket_ != now_serving_ || free_ < n) return 0;  // waiters go first
  free_ -= n;
  return n;
}

void CpuBudget::Release(int n) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_ += n;
  }
  cv_.notify_all();
}

}  // namespace ptserve
