#include "server/http/memory_budget.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "gtest/gtest.h"

namespace ptserve::http {
namespace {

TEST(MemoryBudgetTest, ReservesWithinTheLimitOnly) {
  MemoryBudget budget(100);
  EXPECT_TRUE(budget.TryReserve(60));
  EXPECT_FALSE(budget.TryReserve(41));
  EXPECT_TRUE(budget.TryReserve(40));
  EXPECT_EQ(budget.used(), 100u);
  EXPECT_TRUE(budget.TryReserve(0));
  budget.Release(100);
  EXPECT_EQ(budget.used(), 0u);
  // No overflow: a huge request never wraps around.
  EXPECT_FALSE(budget.TryReserve(~uint64_t{0}));
  EXPECT_TRUE(budget.TryReserve(1));
  EXPECT_FALSE(budget.TryReserve(100));
  EXPECT_EQ(budget.used(), 1u);
}

TEST(MemoryBudgetTest, ReservationGivesBackOnResetDestructionAndMove) {
  MemoryBudget budget(10);
  {
    MemoryBudget::Reservation r(&budget);
    EXPECT_TRUE(r.Grow(4));
    EXPECT_TRUE(r.Grow(6));
    EXPECT_FALSE(r.Grow(1));
    EXPECT_EQ(r.bytes(), 10u);
    MemoryBudget::Reservation moved = std::move(r);
    EXPECT_EQ(r.bytes(), 0u);  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_EQ(budget.used(), 10u);
  }
  EXPECT_EQ(budget.used(), 0u);
  MemoryBudget::Reservation unlimited;
  EXPECT_TRUE(unlimited.Grow(~uint64_t{0}));
}

TEST(MemoryBudgetTest, ConcurrentReservationsNeverExceedTheLimit) {
  MemoryBudget budget(1000);
  std::vector<std::thread> threads;
  std::atomic<bool> exceeded{false};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        MemoryBudget::Reservation r(&budget);
        if (r.Grow(300) && budget.used() > budget.limit()) exceeded = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(exceeded);
  EXPECT_EQ(budget.used(), 0u);
}

class AvailableMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("ptserve-cgroup-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    const auto path = root_ / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::filesystem::path root_;
};

TEST_F(AvailableMemoryTest, ReadsCgroupV2OwnGroup) {
  Write("cgroup/app/memory.max", "536870912\n");
  Write("self", "0::/app\n");
  EXPECT_EQ(AvailableMemoryBytes((root_ / "cgroup").string(), (root_ / "self").string()),
            uint64_t{536870912});
}

TEST_F(AvailableMemoryTest, ReadsCgroupV1) {
  Write("cgroup/memory/docker/x/memory.limit_in_bytes", "268435456\n");
  Write("self", "5:memory:/docker/x\n4:cpu,cpuacct:/docker/x\n");
  EXPECT_EQ(AvailableMemoryBytes((root_ / "cgroup").string(), (root_ / "self").string()),
            uint64_t{268435456});
}

TEST_F(AvailableMemoryTest, UnlimitedFallsBackToPhysicalMemory) {
  Write("cgroup/memory.max", "max\n");
  Write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  Write("self", "0::/\n");
  const uint64_t bytes =
      AvailableMemoryBytes((root_ / "cgroup").string(), (root_ / "self").string());
  EXPECT_GT(bytes, uint64_t{64} << 20);
  EXPECT_EQ(bytes, AvailableMemoryBytes((root_ / "none").string(), (root_ / "none").string()));
  EXPECT_EQ(DefaultInflightBudget(), AvailableMemoryBytes() / 4);
}

}  // namespace
}  // namespace ptserve::http
