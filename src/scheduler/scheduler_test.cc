#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <future>
#include <random>
#include <set>

#include "absl/synchronization/notification.h"

namespace ptserve {
namespace {

using namespace std::chrono_literals;

// A fake model: output row r = 2 * input row r + (sum of input row r).
// Row-independent, so batched and alone must agree exactly.
class FakeInstance : public ModelInstance {
 public:
  explicit FakeInstance(std::chrono::microseconds delay = 0us, absl::Notification* gate = nullptr)
      : delay_(delay), gate_(gate) {}
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    if (gate_) gate_->WaitForNotification();
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    batch_sizes.push_back(inputs[0].shape()[0]);
    const Tensor& in = inputs[0];
    if (in.shape().size() == 2 && in.shape()[1] == 0) return absl::InvalidArgumentError("boom");
    Tensor out = Tensor::Allocate(DataType::kFp32, in.shape()).value();
    const float* x = in.data_as<float>();
    float* y = reinterpret_cast<float*>(out.mutable_data());
    const int64_t rows = in.shape()[0], cols = in.shape()[1];
    for (int64_t r = 0; r < rows; ++r) {
      float sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += x[r * cols + c];
      for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = 2 * x[r * cols + c] + sum;
    }
    return std::vector<Tensor>{out};
  }
  std::vector<int64_t> batch_sizes;  // only read after the scheduler drained

 private:
  std::chrono::microseconds delay_;
  absl::Notification* gate_;
};

Tensor Row(float seed, int64_t rows = 1, int64_t cols = 4) {
  Tensor t = Tensor::Allocate(DataType::kFp32, {rows, cols}).value();
  float* p = reinterpret_cast<float*>(t.mutable_data());
  for (int64_t i = 0; i < rows * cols; ++i) p[i] = seed + 0.25f * i;
  return t;
}

struct Result {
  absl::Status status;
  std::vector<float> values;
  InferenceTiming timing;
};

// Enqueues and returns a future of the result.
std::future<Result> Submit(Scheduler& s, Tensor input, std::optional<int64_t> timeout_us = {},
                           std::optional<int> priority = {}, absl::Status* enqueue_status = nullptr,
                           uint64_t* ticket = nullptr) {
  auto promise = std::make_shared<std::promise<Result>>();
  auto future = promise->get_future();
  ScheduledRequest r;
  r.inputs = {std::move(input)};
  r.timeout_us = timeout_us;
  r.priority = priority;
  r.done = [promise](absl::StatusOr<std::vector<Tensor>> out, const InferenceTiming& timing) {
    Result res;
    res.timing = timing;
    if (out.ok()) {
      const Tensor& t = (*out)[0];
      res.values.resize(t.element_count());
      std::memcpy(res.values.data(), t.data(), t.byte_size());
    } else {
      res.status = out.status();
    }
    promise->set_value(std::move(res));
  };
  auto t = s.Enqueue(std::move(r));
  if (enqueue_status) *enqueue_status = t.status();
  if (ticket && t.ok()) *ticket = *t;
  if (!t.ok()) {
    std::promise<Result> failed;
    failed.set_value(Result{t.status(), {}, {}});
    return failed.get_future();
  }
  return future;
}

std::vector<float> Alone(const Tensor& t) {
  FakeInstance f;
  auto out = f.Execute({t}).value();
  std::vector<float> v(out[0].element_count());
  std::memcpy(v.data(), out[0].data(), out[0].byte_size());
  return v;
}

SchedulerOptions Batching(int64_t max_batch = 8, int64_t delay_us = 20000) {
  SchedulerOptions o;
  o.name = "fake";
  o.max_batch_size = max_batch;
  o.dynamic_batching = true;
  o.max_queue_delay_us = delay_us;
  return o;
}

std::unique_ptr<Scheduler> Make(SchedulerOptions o, int instances = 1,
                                std::chrono::microseconds delay = 0us,
                                absl::Notification* gate = nullptr,
                                std::vector<FakeInstance*>* raw = nullptr) {
  std::vector<std::unique_ptr<ModelInstance>> list;
  for (int i = 0; i < instances; ++i) {
    auto f = std::make_unique<FakeInstance>(delay, gate);
    if (raw) raw->push_back(f.get());
    list.push_back(std::move(f));
  }
  return Scheduler::Create(std::move(o), std::move(list)).value();
}

TEST(SchedulerTest, BatchedOutputsEqualAloneOutputs) {
  std::vector<FakeInstance*> raw;
  auto s = Make(Batching(8, 50000), 1, 0us, nullptr, &raw);
  std::vector<std::future<Result>> futures;
  std::vector<Tensor> inputs;
  for (int i = 0; i < 8; ++i) {
    inputs.push_back(Row(static_cast<float>(i), 1 + i % 2));
    futures.push_back(Submit(*s, inputs.back()));
  }
  int64_t max_seen = 0;
  for (int i = 0; i < 8; ++i) {
    Result r = futures[i].get();
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.values, Alone(inputs[i]));
    max_seen = std::max(max_seen, r.timing.batch_size);
  }
  s->Drain();
  EXPECT_GT(max_seen, 1) << "requests were never merged";
  for (int64_t b : raw[0]->batch_sizes) EXPECT_LE(b, 8);
  const SchedulerStats stats = s->Stats();
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_EQ(stats.requests_ok, 8u);
}

TEST(SchedulerTest, FullBatchGoesWithoutWaitingForTheDelay) {
  auto s = Make(Batching(4, 10'000'000));  // 10 s delay
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::future<Result>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(Submit(*s, Row(i)));
  for (auto& f : futures) EXPECT_TRUE(f.get().status.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(SchedulerTest, PreferredBatchSizeGoesAtOnce) {
  SchedulerOptions o = Batching(8, 10'000'000);
  o.preferred_batch_sizes = {2};
  auto s = Make(o);
  auto a = Submit(*s, Row(1));
  auto b = Submit(*s, Row(2));
  EXPECT_EQ(b.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(a.get().timing.batch_size, 2);
}

TEST(SchedulerTest, DelayBoundsTheWaitOfALoneRequest) {
  auto s = Make(Batching(8, 30000));
  Result r = Submit(*s, Row(1)).get();
  ASSERT_TRUE(r.status.ok());
  EXPECT_GE(r.timing.queue_us, 25000);
  EXPECT_LT(r.timing.queue_us, 2000000);
  EXPECT_EQ(r.timing.batch_size, 1);
}

TEST(SchedulerTest, FullQueueRejectsAtOnce) {
  absl::Notification gate;
  SchedulerOptions o = Batching(1, 0);
  o.max_queue_size = 3;
  auto s = Make(o, 1, 0us, &gate);
  std::vector<std::future<Result>> futures;
  // One runs (blocked on the gate), three wait, the fifth must be refused.
  futures.push_back(Submit(*s, Row(0)));
  while (s->Stats().in_flight == 0) std::this_thread::sleep_for(1ms);
  for (int i = 1; i < 4; ++i) futures.push_back(Submit(*s, Row(i)));
  absl::Status status;
  Submit(*s, Row(9), {}, {}, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("full"), std::string::npos);
  EXPECT_EQ(s->Stats().rejected, 1u);
  gate.Notify();
  for (auto& f : futures) EXPECT_TRUE(f.get().status.ok());
}

TEST(SchedulerTest, TimeoutFiresWhileWorkersAreBusy) {
  absl::Notification gate;
  auto s = Make(Batching(1, 0), 1, 0us, &gate);
  auto blocker = Submit(*s, Row(0));
  while (s->Stats().in_flight == 0) std::this_thread::sleep_for(1ms);
  const auto start = std::chrono::steady_clock::now();
  auto timed = Submit(*s, Row(1), /*timeout_us=*/20000);
  ASSERT_EQ(timed.wait_for(5s), std::future_status::ready);
  const auto waited = std::chrono::steady_clock::now() - start;
  Result r = timed.get();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(waited, 19ms);
  EXPECT_LT(waited, 1s);
  gate.Notify();
  EXPECT_TRUE(blocker.get().status.ok());
  EXPECT_EQ(s->Stats().timed_out, 1u);
}

TEST(SchedulerTest, TimeoutActionDelayRunsLater) {
  absl::Notification gate;
  SchedulerOptions o = Batching(1, 0);
  o.timeout_delays = true;
  auto s = Make(o, 1, 0us, &gate);
  auto blocker = Submit(*s, Row(0));
  while (s->Stats().in_flight == 0) std::this_thread::sleep_for(1ms);
  auto late = Submit(*s, Row(1), 1000);
  std::this_thread::sleep_for(20ms);
  auto fresh = Submit(*s, Row(2));
  gate.Notify();
  Result l = late.get();
  Result f = fresh.get();
  EXPECT_TRUE(l.status.ok());
  EXPECT_TRUE(f.status.ok());
  EXPECT_GT(l.timing.queue_us, f.timing.queue_us);
}

TEST(SchedulerTest, CancelFreesTheSlot) {
  absl::Notification gate;
  SchedulerOptions o = Batching(1, 0);
  o.max_queue_size = 1;
  auto s = Make(o, 1, 0us, &gate);
  auto blocker = Submit(*s, Row(0));
  while (s->Stats().in_flight == 0) std::this_thread::sleep_for(1ms);
  uint64_t ticket = 0;
  auto queued = Submit(*s, Row(1), {}, {}, nullptr, &ticket);
  absl::Status status;
  Submit(*s, Row(2), {}, {}, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(s->Cancel(ticket));
  EXPECT_FALSE(s->Cancel(ticket));
  EXPECT_EQ(queued.get().status.code(), absl::StatusCode::kCancelled);
  auto next = Submit(*s, Row(3), {}, {}, &status);
  EXPECT_TRUE(status.ok());
  gate.Notify();
  EXPECT_TRUE(next.get().status.ok());
}

TEST(SchedulerTest, PreserveOrderingAcrossInstances) {
  SchedulerOptions o;
  o.name = "ordered";
  o.max_batch_size = 4;
  o.preserve_ordering = true;
  auto s = Make(o, 3, 300us);
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::future<void>> done;
  for (int i = 0; i < 60; ++i) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    ScheduledRequest r;
    r.inputs = {Row(i)};
    r.done = [&, i, p](absl::StatusOr<std::vector<Tensor>>, const InferenceTiming&) {
      {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
      }
      p->set_value();
    };
    ASSERT_TRUE(s->Enqueue(std::move(r)).ok());
  }
  for (auto& f : done) f.get();
  for (int i = 0; i < 60; ++i) EXPECT_EQ(order[i], i);
}

TEST(SchedulerTest, HigherPriorityRunsFirst) {
  absl::Notification gate;
  SchedulerOptions o = Batching(1, 0);
  o.priority_levels = 2;
  o.default_priority_level = 2;
  auto s = Make(o, 1, 0us, &gate);
  auto blocker = Submit(*s, Row(0));
  while (s->Stats().in_flight == 0) std::this_thread::sleep_for(1ms);
  auto low = Submit(*s, Row(1));
  auto high = Submit(*s, Row(2), {}, 1);
  absl::Status bad;
  Submit(*s, Row(3), {}, 7, &bad);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  gate.Notify();
  EXPECT_LT(high.get().timing.queue_us, low.get().timing.queue_us);
}

TEST(SchedulerTest, ModelErrorReachesEveryRequestOfTheBatch) {
  auto s = Make(Batching(4, 0));
  Tensor empty = Tensor::Allocate(DataType::kFp32, {1, 0}).value();
  Result r = Submit(*s, empty).get();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->Stats().requests_failed, 1u);
}

TEST(SchedulerTest, NoRequestLostOrAnsweredTwiceUnderLoad) {
  SchedulerOptions o = Batching(16, 200);
  o.max_queue_size = 100000;
  auto s = Make(o, 2, 50us);
  constexpr int kThreads = 8, kPerThread = 400;
  std::vector<std::atomic<int>> answers(kThreads * kPerThread);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int id = t * kPerThread + i;
        Tensor in = Row(static_cast<float>(id), 1 + id % 3);
        std::vector<float> want = Alone(in);
        ScheduledRequest r;
        r.inputs = {in};
        r.done = [&, id, want](absl::StatusOr<std::vector<Tensor>> out, const InferenceTiming&) {
          answers[id].fetch_add(1);
          if (!out.ok() || std::memcmp((*out)[0].data(), want.data(), want.size() * 4) != 0) {
            mismatches.fetch_add(1);
          }
        };
        ASSERT_TRUE(s->Enqueue(std::move(r)).ok());
      }
    });
  }
  for (auto& c : clients) c.join();
  s->Drain();
  for (int i = 0; i < kThreads * kPerThread; ++i) ASSERT_EQ(answers[i].load(), 1) << i;
  EXPECT_EQ(mismatches.load(), 0);
  SchedulerStats st = s->Stats();
  EXPECT_EQ(st.requests_ok, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LT(st.executions, st.requests_ok);  // batching happened
}

TEST(SchedulerTest, DrainRunsEverythingQueuedAndRefusesNewWork) {
  auto s = Make(Batching(4, 1'000'000), 1, 1000us);
  std::vector<std::future<Result>> futures;
  for (int i = 0; i < 10; ++i) futures.push_back(Submit(*s, Row(i)));
  s->Drain();
  for (auto& f : futures) EXPECT_TRUE(f.get().status.ok());
  absl::Status status;
  Submit(*s, Row(1), {}, {}, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

TEST(SchedulerTest, UnbatchedModelRunsRequestsConcurrently) {
  SchedulerOptions o;
  o.name = "unbatched";
  auto s = Make(o, 2, 20000us);
  const auto start = std::chrono::steady_clock::now();
  auto a = Submit(*s, Row(1));
  auto b = Submit(*s, Row(2));
  EXPECT_TRUE(a.get().status.ok());
  EXPECT_TRUE(b.get().status.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 39ms);
}

}  // namespace
}  // namespace ptserve
