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

void CpuBudget::Release(int n) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_ += n;
  }
  cv_.notify_all();
}

}  // namespace ptserve
