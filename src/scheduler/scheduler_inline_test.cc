// Inline runs (SchedulerOptions::inline_when_idle): an idle model runs a
// request on Enqueue's thread; anything that would change batching, or a busy
// model, goes through the queue as before; an instance never runs two
// batches at once, whichever threads ask.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "core/fake_clock.h"
#include "core/mutex.h"
#include "scheduler/scheduler.h"

namespace ptserve {
namespace {

using namespace std::chrono_literals;

// Echoes its inputs; records the threads it ran on and whether two
// executions ever overlapped. Executions can be held at a gate.
class RecordingInstance : public ModelInstance {
 public:
  explicit RecordingInstance(FakeClock* clock = nullptr, int64_t compute_us = 0)
      : clock_(clock), compute_us_(compute_us) {}

  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    if (running_.fetch_add(1) != 0) overlapped_ = true;
    {
      MutexLock lock(mu_);
      threads_.push_back(std::this_thread::get_id());
      rows_.push_back(inputs[0].shape()[0]);
      ++entered_;
      cv_.NotifyAll();
      while (held_) cv_.Wait(mu_);
    }
    if (clock_ != nullptr) clock_->Advance(std::chrono::microseconds(compute_us_));
    running_.fetch_sub(1);
    return inputs;
  }
  void BindToThread() override { binds_.fetch_add(1); }

  void Hold() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    held_ = true;
  }
  void Release() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      MutexLock lock(mu_);
      held_ = false;
    }
    cv_.NotifyAll();
  }
  void WaitEntered(int n) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    while (entered_ < n) cv_.Wait(mu_);
  }
  std::vector<std::thread::id> threads() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    return threads_;
  }
  std::vector<int64_t> rows() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    return rows_;
  }
  bool overlapped() const { return overlapped_.load(); }
  int binds() const { return binds_.load(); }

 private:
  FakeClock* clock_;
  const int64_t compute_us_;
  std::atomic<int> running_{0};
  std::atomic<bool> overlapped_{false};
  std::atomic<int> binds_{0};
  Mutex mu_;
  CondVar cv_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int entered_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread::id> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> rows_ ABSL_GUARDED_BY(mu_);
};

Tensor Rows(int64_t rows, float value = 1) {
  Tensor t = Tensor::Allocate(DataType::kFp32, {rows, 2}).value();
  float* p = reinterpret_cast<float*>(t.mutable_data());
  for (int64_t i = 0; i < rows * 2; ++i) p[i] = value;
  return t;
}

// Enqueues; `answered` is set by the callback (read after Enqueue returns).
struct Call {
  std::promise<absl::StatusOr<std::vector<Tensor>>> promise;
  std::atomic<bool> answered{false};
  std::thread::id thread;
};

std::shared_ptr<Call> Enqueue(Scheduler& s, Tensor input, bool* answered_at_return = nullptr) {
  auto call = std::make_shared<Call>();
  ScheduledRequest r;
  r.inputs = {std::move(input)};
  r.done = [call](absl::StatusOr<std::vector<Tensor>> out, const InferenceTiming&) {
    call->thread = std::this_thread::get_id();
    call->answered = true;
    call->promise.set_value(std::move(out));
  };
  EXPECT_TRUE(s.Enqueue(std::move(r)).ok());
  if (answered_at_return) *answered_at_return = call->answered.load();
  return call;
}

// A worker answers before it marks its instance free: wait for that.
void WaitIdle(Scheduler& s) {
  while (s.Stats().in_flight > 0) std::this_thread::sleep_for(100us);
}

// Traffic one request at a time until inline runs are allowed: enough idle
// arrivals in a row, and an execution time to judge the model by.
void Settle(Scheduler& s, int64_t rows = 1) {
  for (int i = 0; i < Scheduler::kInlineIdleStreak; ++i) {
    auto call = Enqueue(s, Rows(rows));
    EXPECT_TRUE(call->promise.get_future().get().ok());
    WaitIdle(s);
  }
}

SchedulerOptions InlineOptions() {
  SchedulerOptions o;
  o.name = "inline";
  o.max_batch_size = 8;
  o.inline_when_idle = true;
  return o;
}

// Dynamic batching that waits up to a second for companions, preferring 4 rows.
SchedulerOptions BatchingInlineOptions() {
  SchedulerOptions o = InlineOptions();
  o.dynamic_batching = true;
  o.max_queue_delay_us = 1'000'000;
  o.preferred_batch_sizes = {4};
  return o;
}

// Sends `n` requests one at a time; each must be run by a worker, not inline.
void ExpectEachOnAWorker(Scheduler& s, int n) {
  for (int i = 0; i < n; ++i) {
    auto call = Enqueue(s, Rows(1));
    ASSERT_TRUE(call->promise.get_future().get().ok());
    EXPECT_NE(call->thread, std::this_thread::get_id()) << i;
    WaitIdle(s);
  }
}

std::unique_ptr<Scheduler> Make(SchedulerOptions o, std::vector<RecordingInstance*>* out,
                                int count = 1, FakeClock* clock = nullptr, int64_t compute_us = 0) {
  std::vector<std::unique_ptr<ModelInstance>> list;
  for (int i = 0; i < count; ++i) {
    auto instance = std::make_unique<RecordingInstance>(clock, compute_us);
    out->push_back(instance.get());
    list.push_back(std::move(instance));
  }
  return Scheduler::Create(std::move(o), std::move(list)).value();
}

TEST(SchedulerInlineTest, AnIdleModelAnswersOnTheCallersThreadBeforeEnqueueReturns) {
  std::vector<RecordingInstance*> instances;
  auto s = Make(InlineOptions(), &instances);
  Settle(*s);
  const size_t before = instances[0]->threads().size();
  for (int i = 0; i < 3; ++i) {
    bool answered = false;
    auto call = Enqueue(*s, Rows(1), &answered);
    EXPECT_TRUE(answered);
    EXPECT_EQ(call->thread, std::this_thread::get_id());
    ASSERT_TRUE(call->promise.get_future().get().ok());
  }
  s->Drain();
  const std::vector<std::thread::id> threads = instances[0]->threads();
  ASSERT_EQ(threads.size(), before + 3);
  for (size_t i = before; i < threads.size(); ++i)
    EXPECT_EQ(threads[i], std::this_thread::get_id());
  // Bound to this thread once, besides its worker's own bind.
  EXPECT_EQ(instances[0]->binds(), 2);
  const SchedulerStats stats = s->Stats();
  EXPECT_EQ(stats.requests_ok, before + 3);
  EXPECT_EQ(stats.in_flight, 0u);
}

TEST(SchedulerInlineTest, OffByDefault) {
  SchedulerOptions o = InlineOptions();
  o.inline_when_idle = false;
  std::vector<RecordingInstance*> instances;
  auto s = Make(o, &instances);
  Settle(*s);
  auto call = Enqueue(*s, Rows(1));
  ASSERT_TRUE(call->promise.get_future().get().ok());
  EXPECT_NE(call->thread, std::this_thread::get_id());
}

TEST(SchedulerInlineTest, TheFirstRequestsGoToTheWorkerUntilTheModelIsKnownToBeIdleAndFast) {
  std::vector<RecordingInstance*> instances;
  auto s = Make(InlineOptions(), &instances);
  ExpectEachOnAWorker(*s, Scheduler::kInlineIdleStreak - 1);
}

TEST(SchedulerInlineTest, ABusyModelQueuesAndItsWorkerRunsTheRequestAfterwards) {
  std::vector<RecordingInstance*> instances;
  auto s = Make(InlineOptions(), &instances);
  Settle(*s);
  RecordingInstance& instance = *instances[0];
  instance.Hold();
  // The first request runs inline on another thread and is held there.
  std::thread first([&] { EXPECT_TRUE(Enqueue(*s, Rows(1))->promise.get_future().get().ok()); });
  instance.WaitEntered(Scheduler::kInlineIdleStreak + 1);  // after Settle's
  // Its instance is busy: these queue, and Enqueue returns at once.
  std::vector<std::shared_ptr<Call>> calls;
  for (int i = 0; i < 3; ++i) {
    bool answered = true;
    calls.push_back(Enqueue(*s, Rows(1), &answered));
    EXPECT_FALSE(answered);
  }
  instance.Release();
  first.join();
  for (auto& call : calls) {
    ASSERT_TRUE(call->promise.get_future().get().ok());
    EXPECT_NE(call->thread, std::this_thread::get_id());
  }
  s->Drain();
  EXPECT_FALSE(instance.overlapped());
  EXPECT_EQ(s->Stats().requests_ok, Scheduler::kInlineIdleStreak + 4u);
}

TEST(SchedulerInlineTest, ARequestThatWouldWaitForABatchIsQueuedAsBefore) {
  std::vector<RecordingInstance*> instances;
  auto s = Make(BatchingInlineOptions(), &instances);
  Settle(*s, 8);
  const size_t settled = instances[0]->rows().size();
  bool answered = true;
  auto small = Enqueue(*s, Rows(1), &answered);
  EXPECT_FALSE(answered);  // waits for companions, as without inline runs
  // A preferred size or a full batch would be taken at once: those run inline
  // when the model is idle. Here one request is queued, so this one queues too
  // and batches with it.
  auto three = Enqueue(*s, Rows(3));
  ASSERT_TRUE(small->promise.get_future().get().ok());
  ASSERT_TRUE(three->promise.get_future().get().ok());
  EXPECT_NE(three->thread, std::this_thread::get_id());
  s->Drain();
  const std::vector<int64_t> rows = instances[0]->rows();
  EXPECT_EQ(std::vector<int64_t>(rows.begin() + settled, rows.end()), std::vector<int64_t>({4}));
}

TEST(SchedulerInlineTest, AFullOrPreferredBatchRunsInlineWhenTheModelIsIdle) {
  std::vector<RecordingInstance*> instances;
  auto s = Make(BatchingInlineOptions(), &instances);
  Settle(*s, 8);
  for (int64_t rows : {4, 8}) {
    bool answered = false;
    auto call = Enqueue(*s, Rows(rows), &answered);
    EXPECT_TRUE(answered) << rows;
  }
}

TEST(SchedulerInlineTest, ASlowModelIsNeverRunInline) {
  FakeClock clock;
  SchedulerOptions o = InlineOptions();
  o.clock = &clock;
  std::vector<RecordingInstance*> instances;
  // Each execution takes longer than a network thread may be held.
  auto s = Make(o, &instances, 1, &clock, Scheduler::kMaxInlineComputeUs + 1);
  Settle(*s);
  ExpectEachOnAWorker(*s, 3);
}

TEST(SchedulerInlineTest, ARequestArrivingWhileAnotherRunsEndsTheIdleStreak) {
  std::vector<RecordingInstance*> instances;
  auto s = Make(InlineOptions(), &instances, 2);
  Settle(*s);
  // One request runs inline on another thread (held there); the next arrives
  // meanwhile: although the second instance is free, its worker runs it.
  for (RecordingInstance* instance : instances) instance->Hold();
  std::thread first([&] { EXPECT_TRUE(Enqueue(*s, Rows(1))->promise.get_future().get().ok()); });
  while (s->Stats().in_flight == 0) std::this_thread::sleep_for(100us);
  bool answered = true;
  auto second = Enqueue(*s, Rows(1), &answered);
  EXPECT_FALSE(answered);
  for (RecordingInstance* instance : instances) instance->Release();
  first.join();
  ASSERT_TRUE(second->promise.get_future().get().ok());
  EXPECT_NE(second->thread, std::this_thread::get_id());
  WaitIdle(*s);
  // The streak starts again: the next arrivals go to workers until it is long enough.
  ExpectEachOnAWorker(*s, Scheduler::kInlineIdleStreak - 1);
  Enqueue(*s, Rows(1), &answered);
  EXPECT_TRUE(answered);
  s->Drain();
  EXPECT_FALSE(instances[0]->overlapped());
  EXPECT_FALSE(instances[1]->overlapped());
}

TEST(SchedulerInlineTest, EverySixteenthEligibleRequestStillGoesToAWorker) {
  std::vector<RecordingInstance*> instances;
  auto s = Make(InlineOptions(), &instances);
  Settle(*s);
  const int n = 4 * static_cast<int>(Scheduler::kInlineProbeInterval);
  int on_worker = 0;
  for (int i = 0; i < n; ++i) {
    auto call = Enqueue(*s, Rows(1));
    ASSERT_TRUE(call->promise.get_future().get().ok());
    if (call->thread != std::this_thread::get_id()) ++on_worker;
    WaitIdle(*s);
  }
  EXPECT_EQ(on_worker, 4);
}

TEST(SchedulerInlineTest, NoInlineRunWithoutFreeCpuSlots) {
  auto budget = std::make_shared<CpuBudget>(2);
  SchedulerOptions o = InlineOptions();
  o.cpu_budget = budget;
  o.threads_per_execution = 2;
  std::vector<RecordingInstance*> instances;
  auto s = Make(o, &instances);
  Settle(*s);
  const int taken = budget->Acquire(1);  // another model runs
  bool answered = true;
  auto call = Enqueue(*s, Rows(1), &answered);
  EXPECT_FALSE(answered);  // its worker waits for the slots
  budget->Release(taken);
  ASSERT_TRUE(call->promise.get_future().get().ok());
  EXPECT_NE(call->thread, std::this_thread::get_id());
  WaitIdle(*s);
  // Free again: inline, and the slots are given back afterwards.
  Enqueue(*s, Rows(1), &answered);
  EXPECT_TRUE(answered);
  EXPECT_EQ(budget->TryAcquire(2), 2);
  budget->Release(2);
}

TEST(SchedulerInlineTest, ManyThreadsNeverRunOneInstanceTwiceAtOnce) {
  std::vector<RecordingInstance*> instances;
  auto s = Make(InlineOptions(), &instances, 2);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (Enqueue(*s, Rows(1 + i % 3))->promise.get_future().get().ok()) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  s->Drain();
  EXPECT_EQ(ok.load(), 800);
  for (RecordingInstance* instance : instances) EXPECT_FALSE(instance->overlapped());
  const SchedulerStats stats = s->Stats();
  EXPECT_EQ(stats.requests_ok, 800u);
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.queue_depth, 0u);
}

TEST(SchedulerInlineTest, DrainWaitsForAnInlineRunInProgress) {
  std::vector<RecordingInstance*> instances;
  auto s = Make(InlineOptions(), &instances);
  Settle(*s);
  RecordingInstance& instance = *instances[0];
  instance.Hold();
  std::thread inline_caller(
      [&] { EXPECT_TRUE(Enqueue(*s, Rows(1))->promise.get_future().get().ok()); });
  instance.WaitEntered(Scheduler::kInlineIdleStreak + 1);  // after Settle's
  std::atomic<bool> drained{false};
  std::thread drainer([&] {
    s->Drain();
    drained = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(drained.load());
  instance.Release();
  inline_caller.join();
  drainer.join();
  EXPECT_TRUE(drained.load());
  EXPECT_EQ(s->Stats().requests_ok, Scheduler::kInlineIdleStreak + 1u);
}

TEST(SchedulerInlineTest, AWorkerThatSpinsTakesWorkAndStillDrains) {
  SchedulerOptions o = InlineOptions();
  o.inline_when_idle = false;
  o.worker_spin_us = 2000;
  std::vector<RecordingInstance*> instances;
  auto s = Make(o, &instances);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Enqueue(*s, Rows(1))->promise.get_future().get().ok());
  }
  s->Drain();
  EXPECT_EQ(s->Stats().requests_ok, 50u);
}

}  // namespace
}  // namespace ptserve
