#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <future>
#include <random>
#include <set>

#include "core/fake_clock.h"

namespace ptserve {
namespace {

using namespace std::chrono_literals;

// Holds executions until the test opens it; the test can wait until a
// number of executions have reached it (are running now).
class Gate {
 public:
  void Enter() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    ++entered_;
    cv_.NotifyAll();
    while (!open_) cv_.Wait(mu_);
  }
  void WaitEntered(int n) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    while (entered_ < n) cv_.Wait(mu_);
  }
  void Open() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      MutexLock lock(mu_);
      open_ = true;
    }
    cv_.NotifyAll();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int entered_ ABSL_GUARDED_BY(mu_) = 0;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
};

// A fake model: output row r = 2 * input row r + (sum of input row r).
// Row-independent, so batched and alone must agree exactly.
class FakeInstance : public ModelInstance {
 public:
  // `delay`: real time spent in each execution (only to vary interleavings;
  // no test measures it).
  explicit FakeInstance(std::chrono::microseconds delay = 0us, Gate* gate = nullptr)
      : delay_(delay), gate_(gate) {}
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    if (gate_) gate_->Enter();
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    batch_sizes.push_back(inputs[0].shape()[0]);
    const Tensor& in = inputs[0];
    if (in.element_count() > 0) first_values.push_back(in.data_as<float>()[0]);
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
  // Only read after the scheduler drained.
  std::vector<int64_t> batch_sizes;
  std::vector<float> first_values;  // each batch's first element: the seed of its first request

 private:
  std::chrono::microseconds delay_;
  Gate* gate_;
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
      // A deep copy: Debian's Abseil is not built with ThreadSanitizer, which
      // then cannot see that a Status shared between threads is refcounted.
      res.status = absl::Status(out.status().code(), std::string(out.status().message()));
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
                                std::chrono::microseconds delay = 0us, Gate* gate = nullptr,
                                std::vector<FakeInstance*>* raw = nullptr) {
  std::vector<std::unique_ptr<ModelInstance>> list;
  for (int i = 0; i < instances; ++i) {
    auto f = std::make_unique<FakeInstance>(delay, gate);
    if (raw) raw->push_back(f.get());
    list.push_back(std::move(f));
  }
  return Scheduler::Create(std::move(o), std::move(list)).value();
}

template <typename T>
bool IsReady(const std::future<T>& f) {
  return f.wait_for(0s) == std::future_status::ready;
}

// Time is a FakeClock in the tests below: it moves only when a test advances
// it, so a batch delay or a queue timeout ends exactly when the test says,
// and no test sleeps or asserts on wall-clock time. A test that advances it
// first waits (FakeClock::WaitForWaiters) until the scheduler thread that
// should react is parked on the clock, having looked at the current time.

TEST(SchedulerTest, BatchedOutputsEqualAloneOutputs) {
  FakeClock clock;
  SchedulerOptions o = Batching(8, 50000);
  o.clock = &clock;
  std::vector<FakeInstance*> raw;
  auto s = Make(o, 1, 0us, nullptr, &raw);
  std::vector<std::future<Result>> futures;
  std::vector<Tensor> inputs;
  // Rows 1, 2, 1, 2, ...: requests 0-4 and 6 fill a batch of 8 rows at once;
  // 5 and 7 (4 rows) wait for the delay.
  for (int i = 0; i < 8; ++i) {
    inputs.push_back(Row(static_cast<float>(i), 1 + i % 2));
    futures.push_back(Submit(*s, inputs.back()));
  }
  std::vector<Result> results(8);
  for (int i : {0, 1, 2, 3, 4, 6}) results[i] = futures[i].get();
  ASSERT_TRUE(clock.WaitForWaiters(1));  // the worker, with 5 and 7
  EXPECT_EQ(s->Stats().queue_depth, 2u);
  EXPECT_FALSE(IsReady(futures[5]));
  clock.Advance(50000);
  for (int i : {5, 7}) results[i] = futures[i].get();
  for (int i = 0; i < 8; ++i) {
    const Result& r = results[i];
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.values, Alone(inputs[i]));
    const bool late = i == 5 || i == 7;
    EXPECT_EQ(r.timing.batch_size, late ? 4 : 8) << i;
    EXPECT_EQ(r.timing.queue_us, late ? 50000 : 0) << i;
  }
  s->Drain();
  EXPECT_EQ(raw[0]->batch_sizes, (std::vector<int64_t>{8, 4}));
  const SchedulerStats stats = s->Stats();
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_EQ(stats.requests_ok, 8u);
  EXPECT_EQ(stats.executions, 2u);
}

TEST(SchedulerTest, FullBatchGoesWithoutWaitingForTheDelay) {
  FakeClock clock;  // never advanced: a batch that waited for the delay would never go
  SchedulerOptions o = Batching(4, 10'000'000);
  o.clock = &clock;
  auto s = Make(o);
  std::vector<std::future<Result>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(Submit(*s, Row(i)));
  for (auto& f : futures) {
    Result r = f.get();
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.timing.batch_size, 4);
    EXPECT_EQ(r.timing.queue_us, 0);
  }
}

TEST(SchedulerTest, PreferredBatchSizeGoesAtOnce) {
  FakeClock clock;  // never advanced
  SchedulerOptions o = Batching(8, 10'000'000);
  o.preferred_batch_sizes = {2};
  o.clock = &clock;
  auto s = Make(o);
  auto a = Submit(*s, Row(1));
  auto b = Submit(*s, Row(2));
  EXPECT_TRUE(b.get().status.ok());
  Result ra = a.get();
  EXPECT_EQ(ra.timing.batch_size, 2);
  EXPECT_EQ(ra.timing.queue_us, 0);
}

// With no delay a worker takes what is queued, but a preferred size bounds
// it, even when a full batch is queued: 1 request runs while 10 queue; then
// 4 (the preferred size), 4, then the remaining 2 (no prefix makes a
// preferred size: they go as they are).
TEST(SchedulerTest, PreferredBatchSizeBoundsTheBatchWithNoDelay) {
  Gate gate;
  SchedulerOptions o = Batching(8, 0);
  o.preferred_batch_sizes = {4};
  std::vector<FakeInstance*> raw;
  auto s = Make(o, 1, 0us, &gate, &raw);
  std::vector<std::future<Result>> futures;
  futures.push_back(Submit(*s, Row(0)));
  gate.WaitEntered(1);
  for (int i = 1; i < 11; ++i) futures.push_back(Submit(*s, Row(static_cast<float>(i))));
  gate.Open();
  for (auto& f : futures) EXPECT_TRUE(f.get().status.ok());
  s->Drain();
  EXPECT_EQ(raw[0]->batch_sizes, (std::vector<int64_t>{1, 4, 4, 2}));
}

TEST(SchedulerTest, DelayBoundsTheWaitOfALoneRequest) {
  FakeClock clock;
  SchedulerOptions o = Batching(8, 30000);
  o.clock = &clock;
  auto s = Make(o);
  auto f = Submit(*s, Row(1));
  ASSERT_TRUE(clock.WaitForWaiters(1));  // the worker waits for the delay
  clock.Advance(29999);
  ASSERT_TRUE(clock.WaitForWaiters(1));  // it saw the new time and waits again
  EXPECT_FALSE(IsReady(f));
  EXPECT_EQ(s->Stats().executions, 0u);
  EXPECT_EQ(s->Stats().queue_depth, 1u);
  clock.Advance(1);
  Result r = f.get();
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.timing.queue_us, 30000);
  EXPECT_EQ(r.timing.batch_size, 1);
}

// The delay runs from the oldest request of the batch: a partial batch is not
// dispatched before the oldest has waited max_queue_delay_us, and is once it
// has, with everything that joined it meanwhile.
TEST(SchedulerTest, APartialBatchGoesWhenItsOldestRequestHasWaitedTheDelay) {
  FakeClock clock;
  SchedulerOptions o = Batching(8, 30000);
  o.clock = &clock;
  std::vector<FakeInstance*> raw;
  auto s = Make(o, 1, 0us, nullptr, &raw);
  auto first = Submit(*s, Row(1));
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(10000);
  auto second = Submit(*s, Row(2, 2));
  auto third = Submit(*s, Row(3));
  clock.Advance(19999);  // 29999 us after the first
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_FALSE(IsReady(first));
  EXPECT_EQ(s->Stats().executions, 0u);
  EXPECT_EQ(s->Stats().queue_depth, 3u);
  clock.Advance(1);
  Result r1 = first.get(), r2 = second.get(), r3 = third.get();
  ASSERT_TRUE(r1.status.ok() && r2.status.ok() && r3.status.ok());
  EXPECT_EQ(r1.timing.queue_us, 30000);
  EXPECT_EQ(r2.timing.queue_us, 20000);
  EXPECT_EQ(r3.timing.queue_us, 20000);
  for (const Result* r : {&r1, &r2, &r3}) EXPECT_EQ(r->timing.batch_size, 4);
  s->Drain();
  EXPECT_EQ(raw[0]->batch_sizes, std::vector<int64_t>{4});
}

TEST(SchedulerTest, FullQueueRejectsAtOnce) {
  Gate gate;
  SchedulerOptions o = Batching(1, 0);
  o.max_queue_size = 3;
  auto s = Make(o, 1, 0us, &gate);
  std::vector<std::future<Result>> futures;
  // One runs (blocked on the gate), three wait, the fifth must be refused.
  futures.push_back(Submit(*s, Row(0)));
  gate.WaitEntered(1);
  for (int i = 1; i < 4; ++i) futures.push_back(Submit(*s, Row(i)));
  absl::Status status;
  Submit(*s, Row(9), {}, {}, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("full"), std::string::npos);
  EXPECT_EQ(s->Stats().rejected, 1u);
  gate.Open();
  for (auto& f : futures) EXPECT_TRUE(f.get().status.ok());
}

TEST(SchedulerTest, TimeoutFiresWhileWorkersAreBusy) {
  FakeClock clock;
  Gate gate;
  SchedulerOptions o = Batching(1, 0);
  o.clock = &clock;
  auto s = Make(o, 1, 0us, &gate);
  auto blocker = Submit(*s, Row(0));
  gate.WaitEntered(1);  // the only worker is busy
  auto timed = Submit(*s, Row(1), /*timeout_us=*/20000);
  ASSERT_TRUE(clock.WaitForWaiters(1));  // the timer waits for the deadline
  clock.Advance(19999);
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_FALSE(IsReady(timed));
  EXPECT_EQ(s->Stats().timed_out, 0u);
  clock.Advance(1);
  Result r = timed.get();  // answered by the timer, the worker still busy
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.status.message(),
            "request timed out after waiting 20000 us in the queue of model 'fake' (timeout "
            "20000 us)");
  EXPECT_EQ(r.timing.queue_us, 20000);
  EXPECT_FALSE(IsReady(blocker));
  gate.Open();
  EXPECT_TRUE(blocker.get().status.ok());
  EXPECT_EQ(s->Stats().timed_out, 1u);
  EXPECT_EQ(s->Stats().requests_ok, 1u);
}

TEST(SchedulerTest, TimeoutActionDelayRunsLater) {
  FakeClock clock;
  Gate gate;
  SchedulerOptions o = Batching(1, 0);
  o.timeout_delays = true;
  o.clock = &clock;
  std::vector<FakeInstance*> raw;
  auto s = Make(o, 1, 0us, &gate, &raw);
  auto blocker = Submit(*s, Row(0));
  gate.WaitEntered(1);
  auto late = Submit(*s, Row(1), 1000);
  // Keeps the timer on a deadline (so the test sees it parked again once it
  // has moved `late` to the back); it is never reached.
  auto within = Submit(*s, Row(3), 1'000'000'000);
  ASSERT_TRUE(clock.WaitForWaiters(1));  // the timer, on late's deadline
  clock.Advance(1000);
  ASSERT_TRUE(clock.WaitForWaiters(1));  // the timer, on within's deadline: late was delayed
  auto fresh = Submit(*s, Row(2));
  gate.Open();
  Result l = late.get();
  Result f = fresh.get();
  EXPECT_TRUE(l.status.ok());
  EXPECT_TRUE(f.status.ok());
  EXPECT_TRUE(within.get().status.ok());
  EXPECT_EQ(l.timing.queue_us, 1000);
  EXPECT_EQ(f.timing.queue_us, 0);
  s->Drain();
  // The late request ran after every request still within its deadline,
  // even one that arrived after it passed.
  EXPECT_EQ(raw[0]->first_values, (std::vector<float>{0, 3, 2, 1}));
  EXPECT_EQ(s->Stats().timed_out, 0u);
}

TEST(SchedulerTest, CancelFreesTheSlot) {
  Gate gate;
  SchedulerOptions o = Batching(1, 0);
  o.max_queue_size = 1;
  auto s = Make(o, 1, 0us, &gate);
  auto blocker = Submit(*s, Row(0));
  gate.WaitEntered(1);
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
  gate.Open();
  EXPECT_TRUE(next.get().status.ok());
  EXPECT_TRUE(blocker.get().status.ok());
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
  Gate gate;
  SchedulerOptions o = Batching(1, 0);
  o.priority_levels = 2;
  o.default_priority_level = 2;
  std::vector<FakeInstance*> raw;
  auto s = Make(o, 1, 0us, &gate, &raw);
  auto blocker = Submit(*s, Row(0));
  gate.WaitEntered(1);
  auto low = Submit(*s, Row(1));
  auto high = Submit(*s, Row(2), {}, 1);
  absl::Status bad;
  Submit(*s, Row(3), {}, 7, &bad);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  gate.Open();
  EXPECT_TRUE(high.get().status.ok());
  EXPECT_TRUE(low.get().status.ok());
  s->Drain();
  // The high-priority request arrived last and ran first.
  EXPECT_EQ(raw[0]->first_values, (std::vector<float>{0, 2, 1}));
}

// A queue timeout and a priority together: the high-priority request runs
// first, the low one waiting behind it times out on the clock.
TEST(SchedulerTest, ALowPriorityRequestTimesOutBehindAHighOne) {
  FakeClock clock;
  Gate gate;
  SchedulerOptions o = Batching(1, 0);
  o.priority_levels = 2;
  o.default_priority_level = 2;
  o.clock = &clock;
  std::vector<FakeInstance*> raw;
  auto s = Make(o, 1, 0us, &gate, &raw);
  auto blocker = Submit(*s, Row(0));
  gate.WaitEntered(1);
  auto low = Submit(*s, Row(1), /*timeout_us=*/5000);
  auto high = Submit(*s, Row(2), /*timeout_us=*/50000, 1);
  ASSERT_TRUE(clock.WaitForWaiters(1));  // the timer, on low's deadline
  clock.Advance(5000);
  Result l = low.get();
  EXPECT_EQ(l.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(l.timing.queue_us, 5000);
  ASSERT_TRUE(clock.WaitForWaiters(1));  // the timer, on high's deadline
  gate.Open();
  Result h = high.get();
  EXPECT_TRUE(h.status.ok()) << h.status;
  EXPECT_EQ(h.timing.queue_us, 5000);
  s->Drain();
  EXPECT_EQ(raw[0]->first_values, (std::vector<float>{0, 2}));
  EXPECT_EQ(s->Stats().timed_out, 1u);
}

TEST(SchedulerTest, ModelErrorReachesEveryRequestOfTheBatch) {
  auto s = Make(Batching(4, 0));
  Tensor empty = Tensor::Allocate(DataType::kFp32, {1, 0}).value();
  Result r = Submit(*s, empty).get();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->Stats().requests_failed, 1u);
}

TEST(SchedulerTest, NoRequestLostOrAnsweredTwiceUnderLoad) {
  // Never advanced: a batch goes when it is full (or at Drain), so batching
  // is certain, whatever the threads' timing.
  FakeClock clock;
  SchedulerOptions o = Batching(16, 200);
  o.max_queue_size = 100000;
  o.clock = &clock;
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
  FakeClock clock;  // never advanced: the last two requests wait for Drain
  SchedulerOptions o = Batching(4, 1'000'000);
  o.clock = &clock;
  std::vector<FakeInstance*> raw;
  auto s = Make(o, 1, 0us, nullptr, &raw);
  std::vector<std::future<Result>> futures;
  for (int i = 0; i < 10; ++i) futures.push_back(Submit(*s, Row(i)));
  s->Drain();
  for (auto& f : futures) EXPECT_TRUE(f.get().status.ok());
  EXPECT_EQ(raw[0]->batch_sizes, (std::vector<int64_t>{4, 4, 2}));
  absl::Status status;
  Submit(*s, Row(1), {}, {}, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

TEST(SchedulerTest, UnbatchedModelRunsRequestsConcurrently) {
  Gate gate;
  SchedulerOptions o;
  o.name = "unbatched";
  auto s = Make(o, 2, 0us, &gate);
  auto a = Submit(*s, Row(1));
  auto b = Submit(*s, Row(2));
  gate.WaitEntered(2);  // both run at once, one on each instance
  EXPECT_EQ(s->Stats().in_flight, 2u);
  gate.Open();
  EXPECT_TRUE(a.get().status.ok());
  EXPECT_TRUE(b.get().status.ok());
}

}  // namespace
}  // namespace ptserve
