#include "profiling/profiler.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <optional>

namespace ptserve::profiling {
namespace {

class FakeClock final : public Clock {
 public:
  SteadyTime Now() const override { return now_; }
  void Advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  SteadyTime now_{};
};

class ProfilerTest : public ::testing::Test {
 protected:
  // Declared before the profiler: its destructor delivers captures still open into report_
  // (found by LeakSanitizer: declared after it, report_ was gone by then).
  FakeClock clock_;
  std::optional<ProfileReport> report_;
  Profiler profiler_{Profiler::Options{.clock = &clock_, .background_thread = false}};
  ProfileCallback Keep() {
    return [this](ProfileReport r) { report_ = std::move(r); };
  }
};

TEST_F(ProfilerTest, OffByDefault) {
  ProfileTarget target(&profiler_, "m:1");
  EXPECT_FALSE(target.armed());
  EXPECT_EQ(target.MaybeRecord(1), nullptr);
}

TEST_F(ProfilerTest, CapturesTheNextExecutionsThenDisarms) {
  ProfileTarget target(&profiler_, "m:1");
  ASSERT_TRUE(target.Arm({.executions = 2}, Keep()).ok());
  EXPECT_TRUE(target.armed());
  for (int i = 0; i < 3; ++i) {
    auto recording = target.MaybeRecord(4);
    EXPECT_EQ(recording != nullptr, i < 2);
    at::mm(at::ones({8, 8}), at::ones({8, 8}));
  }
  EXPECT_FALSE(target.armed());
  EXPECT_EQ(profiler_.RunOnce(), 1);
  ASSERT_TRUE(report_.has_value());
  EXPECT_EQ(report_->executions, 2);
  EXPECT_FALSE(report_->timed_out);
  bool mm = false;
  for (const OperatorStats& op : report_->operators) mm |= op.name == "aten::mm" && op.calls == 2;
  EXPECT_TRUE(mm) << report_->trace_json;
  EXPECT_NE(report_->trace_json.find("\"batch_size\":4"), std::string::npos);
}

TEST_F(ProfilerTest, TimeoutAnswersWithWhatWasCaptured) {
  ProfileTarget target(&profiler_, "m:1");
  ASSERT_TRUE(target.Arm({.executions = 3, .timeout = std::chrono::milliseconds(100)}, Keep()).ok());
  target.MaybeRecord(1).reset();
  EXPECT_EQ(profiler_.RunOnce(), 0);
  clock_.Advance(std::chrono::milliseconds(100));
  EXPECT_EQ(profiler_.RunOnce(), 1);
  ASSERT_TRUE(report_.has_value());
  EXPECT_EQ(report_->executions, 1);
  EXPECT_TRUE(report_->timed_out);
  EXPECT_EQ(target.MaybeRecord(1), nullptr);  // closed: disarms
  EXPECT_FALSE(target.armed());
}

TEST_F(ProfilerTest, OneCaptureAtATimePerTarget) {
  ProfileTarget target(&profiler_, "m:1");
  ASSERT_TRUE(target.Arm({.executions = 1}, Keep()).ok());
  EXPECT_EQ(target.Arm({.executions = 1}, Keep()).code(), absl::StatusCode::kAlreadyExists);
  target.MaybeRecord(1).reset();
  profiler_.RunOnce();
  EXPECT_TRUE(target.Arm({.executions = 1}, Keep()).ok());  // the first one was delivered
  EXPECT_EQ(target.Arm({.executions = 0}, Keep()).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ProfilerTest, GoneTargetDeliversAtOnce) {
  {
    ProfileTarget target(&profiler_, "m:1");
    ASSERT_TRUE(target.Arm({.executions = 5}, Keep()).ok());
  }
  EXPECT_EQ(profiler_.RunOnce(), 1);
  ASSERT_TRUE(report_.has_value());
  EXPECT_EQ(report_->executions, 0);
}

TEST(ProfilerThreadTest, DeliversOnItsOwnThread) {
  Profiler profiler;
  ProfileTarget target(&profiler, "m:1");
  std::mutex mu;
  std::condition_variable cv;
  std::optional<ProfileReport> report;
  ASSERT_TRUE(target
                  .Arm({.executions = 1},
                       [&](ProfileReport r) {
                         std::lock_guard<std::mutex> lock(mu);
                         report = std::move(r);
                         cv.notify_all();
                       })
                  .ok());
  {
    auto recording = target.MaybeRecord(0);
    at::relu(at::ones({4}));
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return report.has_value(); }));
  EXPECT_EQ(report->executions, 1);
}

TEST(ProfilerThreadTest, DestructionDeliversOpenCaptures) {
  std::optional<ProfileReport> report;
  auto profiler = std::make_unique<Profiler>();
  ProfileTarget target(profiler.get(), "m:1");
  ASSERT_TRUE(target.Arm({.executions = 2}, [&](ProfileReport r) { report = std::move(r); }).ok());
  target.MaybeRecord(0).reset();
  profiler.reset();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->executions, 1);
  EXPECT_TRUE(report->timed_out);
}

}  // namespace
}  // namespace ptserve::profiling
