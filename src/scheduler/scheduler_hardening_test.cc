// Failures stay local in the scheduler: exceptions thrown by an instance or
// by a completion callback, padded batches that would be enormous, and
// timeouts that would overflow a time point.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <future>
#include <limits>
#include <stdexcept>
#include <system_error>

#include "core/fake_clock.h"
#include "scheduler/scheduler.h"

namespace ptserve {
namespace {

using namespace std::chrono_literals;

enum class Throw { kNothing, kRuntimeError, kBadAlloc, kSystemError, kInt, kTraceback };

// Echoes its first input; throws what it is told to while `fail` is set.
class ThrowingInstance : public ModelInstance {
 public:
  ThrowingInstance(std::atomic<Throw>* fail, bool throw_on_bind = false)
      : fail_(fail), throw_on_bind_(throw_on_bind) {}
  void BindToThread() override {
    if (throw_on_bind_) throw std::runtime_error("cannot bind");
  }
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    batch_rows.push_back(inputs[0].shape().empty() ? 0 : inputs[0].shape()[0]);
    switch (fail_->load()) {
      case Throw::kRuntimeError: throw std::runtime_error("the model blew up");
      case Throw::kBadAlloc: throw std::bad_alloc();
      case Throw::kSystemError:
        throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
      case Throw::kInt: throw 42;
      case Throw::kTraceback:
        throw std::runtime_error(
            "The following operation failed in the TorchScript interpreter.\nTraceback:\n  "
            "File \"code\", line 3\nRuntimeError: index out of range in self\n");
      case Throw::kNothing: break;
    }
    return std::vector<Tensor>{inputs[0]};
  }
  std::vector<int64_t> batch_rows;  // read after Drain()

 private:
  std::atomic<Throw>* fail_;
  bool throw_on_bind_;
};

Tensor Zeros(DataType dtype, Shape shape) { return Tensor::Allocate(dtype, shape).value(); }

struct Outcome {
  absl::Status status;
  Shape shape;
  int64_t batch_size = 0;
};

std::future<Outcome> Submit(Scheduler& s, std::vector<Tensor> inputs,
                            absl::Status* enqueued = nullptr,
                            std::optional<int64_t> timeout_us = std::nullopt) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto future = promise->get_future();
  ScheduledRequest r;
  r.inputs = std::move(inputs);
  r.timeout_us = timeout_us;
  r.done = [promise](absl::StatusOr<std::vector<Tensor>> out, const InferenceTiming& t) {
    Outcome o;
    // A deep copy: Debian's Abseil is not built with ThreadSanitizer, which
    // then cannot see that a Status shared between threads is refcounted.
    o.status = absl::Status(out.status().code(), std::string(out.status().message()));
    if (out.ok()) o.shape = (*out)[0].shape();
    o.batch_size = t.batch_size;
    promise->set_value(std::move(o));
  };
  absl::StatusOr<uint64_t> ticket = s.Enqueue(std::move(r));
  if (enqueued) *enqueued = ticket.status();
  if (!ticket.ok()) promise->set_value(Outcome{ticket.status(), {}, 0});
  return future;
}

std::unique_ptr<Scheduler> Make(SchedulerOptions options, std::atomic<Throw>* fail,
                                ThrowingInstance** raw = nullptr, int instances = 1,
                                bool throw_on_bind = false) {
  std::vector<std::unique_ptr<ModelInstance>> list;
  for (int i = 0; i < instances; ++i) {
    auto instance = std::make_unique<ThrowingInstance>(fail, throw_on_bind);
    if (raw && i == 0) *raw = instance.get();
    list.push_back(std::move(instance));
  }
  return Scheduler::Create(std::move(options), std::move(list)).value();
}

SchedulerOptions Options(int64_t max_batch = 8, int64_t delay_us = 0) {
  SchedulerOptions o;
  o.name = "m";
  o.max_batch_size = max_batch;
  o.dynamic_batching = max_batch > 0;
  o.max_queue_delay_us = delay_us;
  return o;
}

TEST(SchedulerHardeningTest, ExceptionsFromTheModelAreInternalErrorsAndTheWorkerGoesOn) {
  std::atomic<Throw> fail{Throw::kNothing};
  auto s = Make(Options(), &fail);
  for (Throw kind : {Throw::kRuntimeError, Throw::kBadAlloc, Throw::kSystemError, Throw::kInt}) {
    fail = kind;
    Outcome bad = Submit(*s, {Zeros(DataType::kFp32, {1, 4})}).get();
    EXPECT_EQ(bad.status.code(), absl::StatusCode::kInternal) << bad.status;
    EXPECT_NE(bad.status.message().find("model 'm' failed"), std::string::npos) << bad.status;
    fail = Throw::kNothing;
    Outcome good = Submit(*s, {Zeros(DataType::kFp32, {1, 4})}).get();
    EXPECT_TRUE(good.status.ok()) << good.status;
  }
  fail = Throw::kRuntimeError;
  EXPECT_NE(Submit(*s, {Zeros(DataType::kFp32, {1, 4})}).get().status.message().find(
                "the model blew up"),
            std::string::npos);
  fail = Throw::kBadAlloc;
  EXPECT_NE(Submit(*s, {Zeros(DataType::kFp32, {1, 4})}).get().status.message().find(
                "out of memory"),
            std::string::npos);
  fail = Throw::kTraceback;
  EXPECT_EQ(Submit(*s, {Zeros(DataType::kFp32, {1, 4})}).get().status.message(),
            "model 'm' failed: The following operation failed in the TorchScript interpreter. "
            "RuntimeError: index out of range in self");
  s->Drain();
  EXPECT_EQ(s->Stats().requests_failed, 7u);
  EXPECT_EQ(s->Stats().requests_ok, 4u);
}

TEST(SchedulerHardeningTest, EveryRequestOfAFailedBatchIsAnswered) {
  std::atomic<Throw> fail{Throw::kRuntimeError};
  FakeClock clock;  // never advanced: the 8 form one (full) batch
  SchedulerOptions o = Options(8, 200000);
  o.clock = &clock;
  auto s = Make(o, &fail);
  std::vector<std::future<Outcome>> futures;
  for (int i = 0; i < 8; ++i) futures.push_back(Submit(*s, {Zeros(DataType::kFp32, {1, 4})}));
  for (auto& f : futures) {
    Outcome r = f.get();
    EXPECT_EQ(r.status.code(), absl::StatusCode::kInternal);
    EXPECT_EQ(r.batch_size, 8);
  }
}

TEST(SchedulerHardeningTest, ThrowingCallbacksDoNotStopTheWorker) {
  std::atomic<Throw> fail{Throw::kNothing};
  for (bool ordered : {false, true}) {
    SchedulerOptions o = Options();
    o.preserve_ordering = ordered;
    auto s = Make(o, &fail);
    for (int i = 0; i < 3; ++i) {
      ScheduledRequest r;
      r.inputs = {Zeros(DataType::kFp32, {1, 4})};
      r.done = [](absl::StatusOr<std::vector<Tensor>>, const InferenceTiming&) {
        throw std::runtime_error("the callback blew up");
      };
      ASSERT_TRUE(s->Enqueue(std::move(r)).ok());
    }
    EXPECT_TRUE(Submit(*s, {Zeros(DataType::kFp32, {1, 4})}).get().status.ok());
    s->Drain();
  }
}

TEST(SchedulerHardeningTest, AnInstanceThatFailsToBindStillServes) {
  std::atomic<Throw> fail{Throw::kNothing};
  auto s = Make(Options(), &fail, nullptr, 1, /*throw_on_bind=*/true);
  EXPECT_TRUE(Submit(*s, {Zeros(DataType::kFp32, {1, 4})}).get().status.ok());
}

TEST(SchedulerHardeningTest, HugeTimeoutsSaturateInsteadOfExpiringAtOnce) {
  std::atomic<Throw> fail{Throw::kNothing};
  SchedulerOptions o = Options(8, 0);
  o.default_timeout_us = std::numeric_limits<int64_t>::max();  // now + this overflows
  auto s = Make(o, &fail);
  Outcome a = Submit(*s, {Zeros(DataType::kFp32, {1, 4})}).get();
  EXPECT_TRUE(a.status.ok()) << a.status;
  Outcome b = Submit(*s, {Zeros(DataType::kFp32, {1, 4})}, nullptr,
                     std::numeric_limits<int64_t>::max() / 1000 + 1).get();
  EXPECT_TRUE(b.status.ok()) << b.status;
  Outcome c = Submit(*s, {Zeros(DataType::kFp32, {1, 4})}, nullptr, -5).get();  // no deadline
  EXPECT_TRUE(c.status.ok()) << c.status;
  s->Drain();
  EXPECT_EQ(s->Stats().timed_out, 0u);
}

TEST(SchedulerHardeningTest, HugeQueueDelaySaturates) {
  std::atomic<Throw> fail{Throw::kNothing};
  // The delay is "forever": a lone request waits however far the clock
  // moves (the due time does not wrap around into the past) ...
  FakeClock clock;
  SchedulerOptions o = Options(2, std::numeric_limits<int64_t>::max());
  o.clock = &clock;
  auto s = Make(o, &fail);
  auto a = Submit(*s, {Zeros(DataType::kFp32, {1, 4})});
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(std::chrono::hours(24 * 365 * 100));
  ASSERT_TRUE(clock.WaitForWaiters(1));  // it looked at the new time and waits on
  EXPECT_EQ(s->Stats().executions, 0u);
  // ... and the batch goes once it fills (2 rows).
  auto b = Submit(*s, {Zeros(DataType::kFp32, {1, 4})});
  Outcome ra = a.get();
  EXPECT_TRUE(ra.status.ok());
  EXPECT_EQ(ra.batch_size, 2);
  EXPECT_TRUE(b.get().status.ok());
}

// On `clock`: nothing goes before the test advances it by the 100 ms delay
// (or a batch fills), so requests sent together batch together.
SchedulerOptions Padded(int64_t max_elements, Clock* clock) {
  SchedulerOptions o = Options(8, 100000);
  o.clock = clock;
  o.padding = {InputPadding{true, 0}};
  o.max_batch_elements = max_elements;
  o.input_names = {"tokens"};
  return o;
}

TEST(SchedulerHardeningTest, ARequestNoPaddedBatchCouldHoldIsRejected) {
  std::atomic<Throw> fail{Throw::kNothing};
  FakeClock clock;
  auto s = Make(Padded(1 << 20, &clock), &fail);
  // Zero elements, but padded with any partner it would be [2, 1, 2^40].
  absl::Status status;
  Submit(*s, {Zeros(DataType::kInt64, {1, 0, int64_t{1} << 40})}, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("input 'tokens'"), std::string::npos) << status;
  EXPECT_NE(status.message().find("1048576"), std::string::npos) << status;
  EXPECT_NE(status.message().find("[1,0,1099511627776]"), std::string::npos) << status;
  Submit(*s, {Tensor::View(DataType::kInt64, {1, int64_t{1} << 62, 0}, nullptr, nullptr, 0)},
         &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  // The scheduler goes on serving.
  auto ok = Submit(*s, {Zeros(DataType::kInt64, {1, 3, 3})});
  clock.Advance(100000);
  EXPECT_TRUE(ok.get().status.ok());
}

TEST(SchedulerHardeningTest, RequestsThatWouldMakeAPaddedBatchTooLargeRunApart) {
  std::atomic<Throw> fail{Throw::kNothing};
  ThrowingInstance* raw = nullptr;
  FakeClock clock;
  auto s = Make(Padded(1 << 20, &clock), &fail, &raw);
  // Each fits (1024 elements padded alone); together [2, 1024, 1024] = 2^21.
  auto a = Submit(*s, {Zeros(DataType::kInt64, {1, 1024, 0})});
  auto b = Submit(*s, {Zeros(DataType::kInt64, {1, 0, 1024})});
  auto c = Submit(*s, {Zeros(DataType::kInt64, {1, 4, 0})});  // joins a's batch
  clock.Advance(100000);
  Outcome ra = a.get(), rb = b.get(), rc = c.get();
  EXPECT_TRUE(ra.status.ok()) << ra.status;
  EXPECT_TRUE(rb.status.ok()) << rb.status;
  EXPECT_TRUE(rc.status.ok()) << rc.status;
  s->Drain();
  EXPECT_EQ(ra.batch_size, 2);
  EXPECT_EQ(rb.batch_size, 1);
  EXPECT_EQ(rc.batch_size, 2);
  EXPECT_EQ(raw->batch_rows, (std::vector<int64_t>{2, 1}));
}

TEST(SchedulerHardeningTest, BatchesRespectTheByteLimit) {
  std::atomic<Throw> fail{Throw::kNothing};
  ThrowingInstance* raw = nullptr;
  FakeClock clock;
  SchedulerOptions o = Options(8, 100000);
  o.max_batch_bytes = 3 * 4 * 4;  // three rows of 4 floats
  o.clock = &clock;
  auto s = Make(o, &fail, &raw);
  std::vector<std::future<Outcome>> futures;
  for (int i = 0; i < 6; ++i) futures.push_back(Submit(*s, {Zeros(DataType::kFp32, {1, 4})}));
  clock.Advance(100000);  // the six were queued together
  for (auto& f : futures) {
    Outcome r = f.get();
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.batch_size, 3);
  }
  s->Drain();
  EXPECT_EQ(raw->batch_rows, (std::vector<int64_t>{3, 3}));
}

}  // namespace
}  // namespace ptserve
