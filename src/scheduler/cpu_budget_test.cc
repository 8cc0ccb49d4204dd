#include "scheduler/cpu_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ptserve {
namespace {

TEST(CpuBudgetTest, NeverExceedsCapacity) {
  CpuBudget budget(3);
  std::atomic<int> in_use{0}, peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const int n = 1 + (t + i) % 3;
        CpuBudget::Lease lease(&budget, n);
        const int now = in_use.fetch_add(n) + n;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        in_use.fetch_sub(n);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 3);
  EXPECT_GE(peak.load(), 1);
}

TEST(CpuBudgetTest, ClampsLargeRequests) {
  CpuBudget budget(2);
  EXPECT_EQ(budget.Acquire(16), 2);
  budget.Release(2);
  CpuBudget::Lease none(nullptr, 4);  // no budget: no-op
}

}  // namespace
}  // namespace ptserve
