// preserve_ordering: results are delivered in request order, and a slow
// result callback does not hold up the other instances (callbacks run
// without the ordering lock).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "scheduler/scheduler.h"

namespace ptserve {
namespace {

class EchoInstance : public ModelInstance {
 public:
  explicit EchoInstance(std::atomic<int>* executed) : executed_(executed) {}
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    executed_->fetch_add(1);
    return inputs;
  }

 private:
  std::atomic<int>* executed_;
};

// A preserve_ordering scheduler over `instances` echo instances.
std::unique_ptr<Scheduler> Ordered(int instances, int64_t max_batch, std::atomic<int>* executed) {
  SchedulerOptions o;
  o.name = "ordered";
  o.max_batch_size = max_batch;
  o.dynamic_batching = max_batch > 1;
  o.preserve_ordering = true;
  std::vector<std::unique_ptr<ModelInstance>> list;
  for (int i = 0; i < instances; ++i) list.push_back(std::make_unique<EchoInstance>(executed));
  return Scheduler::Create(std::move(o), std::move(list)).value();
}

TEST(SchedulerOrderingTest, ASlowCallbackDoesNotHoldUpTheOtherInstances) {
  std::atomic<int> executed{0};
  auto scheduler = Ordered(2, 1, &executed);

  constexpr int kRequests = 3;
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::promise<void>> delivered(kRequests);
  // Request 0's callback waits until all three requests have executed. With
  // the callback run under the ordering lock, the other instance would be
  // stuck delivering request 1 behind it and request 2 would never run.
  std::atomic<bool> all_executed_while_waiting{false};
  for (int i = 0; i < kRequests; ++i) {
    ScheduledRequest r;
    r.inputs = {Tensor::Allocate(DataType::kFp32, {1, 2}).value()};
    r.done = [&, i](absl::StatusOr<std::vector<Tensor>> result, const InferenceTiming&) {
      EXPECT_TRUE(result.ok());
      if (i == 0) {
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (executed.load() < kRequests && std::chrono::steady_clock::now() < give_up) {
          std::this_thread::yield();
        }
        all_executed_while_waiting = executed.load() == kRequests;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
      }
      delivered[i].set_value();
    };
    ASSERT_TRUE(scheduler->Enqueue(std::move(r)).ok());
  }
  for (auto& d : delivered) d.get_future().wait();
  EXPECT_TRUE(all_executed_while_waiting);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(SchedulerOrderingTest, InOrderUnderConcurrency) {
  std::atomic<int> executed{0};
  auto scheduler = Ordered(4, 4, &executed);
  constexpr int kRequests = 400;
  std::mutex mu;
  std::vector<int> order, enqueued;
  std::vector<std::promise<void>> delivered(kRequests);
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = c; i < kRequests; i += 4) {
        ScheduledRequest r;
        r.inputs = {Tensor::Allocate(DataType::kFp32, {1, 2}).value()};
        r.done = [&, i](absl::StatusOr<std::vector<Tensor>>, const InferenceTiming&) {
          {
            std::lock_guard<std::mutex> lock(mu);
            order.push_back(i);
          }
          delivered[i].set_value();
        };
        // The order is the order Enqueue accepted them in: take it under the lock too.
        std::lock_guard<std::mutex> lock(mu);
        ASSERT_TRUE(scheduler->Enqueue(std::move(r)).ok());
        enqueued.push_back(i);
      }
    });
  }
  for (auto& t : clients) t.join();
  for (auto& d : delivered) d.get_future().wait();
  ASSERT_EQ(order.size(), static_cast<size_t>(kRequests));
  EXPECT_EQ(order, enqueued);
}

}  // namespace
}  // namespace ptserve
