#include "core/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ptserve {
namespace {

TEST(WorkQueueTest, RunsPostedWorkInOrderOnItsOwnThread) {
  std::vector<int> order;
  std::thread::id ran_on;
  {
    WorkQueue queue;
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(queue.Post([&order, &ran_on, i] {
        order.push_back(i);
        ran_on = std::this_thread::get_id();
      }));
    }
  }  // the destructor runs what was queued
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(WorkQueueTest, AThrowingPieceOfWorkDoesNotStopTheQueue) {
  std::atomic<int> ran{0};
  WorkQueue queue;
  queue.Post([] { throw std::runtime_error("boom"); });
  queue.Post([&ran] { ++ran; });
  queue.Stop();
  EXPECT_EQ(ran.load(), 1);
}

TEST(WorkQueueTest, PostAfterStopRunsNothing) {
  std::atomic<int> ran{0};
  WorkQueue queue;
  queue.Stop();
  queue.Stop();  // idempotent
  EXPECT_FALSE(queue.Post([&ran] { ++ran; }));
  EXPECT_EQ(ran.load(), 0);
}

}  // namespace
}  // namespace ptserve
