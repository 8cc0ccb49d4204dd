#include "scheduler/autotune.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace ptserve {
namespace {

// A model whose execution takes cost(batch rows, intra-op threads) of real
// time, asleep: instances run in parallel whatever the machine, so the
// ranking of settings is the cost model's, not the CPUs'.
using CostModel = std::function<std::chrono::microseconds(int64_t rows, int threads)>;

class TimedInstance : public ModelInstance {
 public:
  TimedInstance(CostModel cost, int threads, std::atomic<int>* binds)
      : cost_(std::move(cost)), threads_(threads), binds_(binds) {}
  void BindToThread() override { binds_->fetch_add(1); }
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    const int64_t rows = inputs[0].shape().empty() ? 1 : inputs[0].shape()[0];
    std::this_thread::sleep_for(cost_(rows, threads_));
    return inputs;
  }

 private:
  CostModel cost_;
  int threads_;
  std::atomic<int>* binds_;
};

struct Harness {
  CostModel cost;
  std::atomic<int> binds{0};
  std::vector<int64_t> batches_asked;
  AutotuneInstanceFactory Factory() {
    return [this](int, int threads) -> absl::StatusOr<std::unique_ptr<ModelInstance>> {
      return std::make_unique<TimedInstance>(cost, threads, &binds);
    };
  }
  AutotuneBatchInputs Inputs() {
    return [this](int64_t batch) -> absl::StatusOr<std::vector<Tensor>> {
      batches_asked.push_back(batch);
      Shape shape = batch > 0 ? Shape{batch, 4} : Shape{4};
      absl::StatusOr<Tensor> t = Tensor::Allocate(DataType::kFp32, shape);
      if (!t.ok()) return t.status();
      return std::vector<Tensor>{*t};
    };
  }
};

using std::chrono::microseconds;

AutotuneOptions Options(int cpus, int64_t max_batch, int64_t budget_ms, int64_t p99_target_us = 0) {
  AutotuneOptions o;
  o.cpus = cpus;
  o.max_batch = max_batch;
  o.budget_ms = budget_ms;
  o.p99_target_us = p99_target_us;
  return o;
}

TEST(AutotuneLayoutsTest, EveryLayoutFitsTheCpusMostThreadsFirst) {
  EXPECT_EQ(AutotuneLayouts(1), (std::vector<std::pair<int, int>>{{1, 1}}));
  EXPECT_EQ(AutotuneLayouts(0), (std::vector<std::pair<int, int>>{{1, 1}}));
  EXPECT_EQ(AutotuneLayouts(2), (std::vector<std::pair<int, int>>{{1, 2}, {1, 1}, {2, 1}}));
  EXPECT_EQ(AutotuneLayouts(4), (std::vector<std::pair<int, int>>{
                                    {1, 4}, {1, 2}, {2, 2}, {1, 1}, {2, 1}, {3, 1}, {4, 1}}));
  for (const auto& [n, t] : AutotuneLayouts(6)) EXPECT_LE(n * t, 6);
  // 6 CPUs: 1 x 6 and 2 x 3 (cpus / n) as well as the powers of two.
  const auto six = AutotuneLayouts(6);
  EXPECT_NE(std::find(six.begin(), six.end(), std::make_pair(1, 6)), six.end());
  EXPECT_NE(std::find(six.begin(), six.end(), std::make_pair(2, 3)), six.end());
}

// Threads do not help and batching costs more per row: two instances
// double the rows per second at batch 1.
TEST(AutotuneTest, PicksTwoInstancesWhenThreadsAndBatchesDoNotHelp) {
  Harness h;
  h.cost = [](int64_t rows, int) { return microseconds(2000 * rows + 500 * (rows - 1)); };
  AutotuneOptions o = Options(2, 8, 600);
  AutotuneResult r = Autotune(o, h.Factory(), h.Inputs()).value();
  EXPECT_EQ(r.chosen, (AutotuneSetting{2, 1, 1})) << FormatAutotuneTable(r);
  EXPECT_TRUE(r.target_met);
  EXPECT_GT(r.chosen_rows_per_second, 0);
  EXPECT_GT(r.seconds, 0);
  EXPECT_GT(h.binds.load(), 0);  // each measuring thread binds its instance
}

// A fixed cost per execution: the largest batch tried wins.
TEST(AutotuneTest, BatchingWinsWhenItAmortisesAFixedCost) {
  Harness h;
  h.cost = [](int64_t rows, int) { return microseconds(1000 + 10 * rows); };
  AutotuneOptions o = Options(1, 16, 1000);
  AutotuneResult r = Autotune(o, h.Factory(), h.Inputs()).value();
  EXPECT_EQ(r.chosen, (AutotuneSetting{1, 1, 16})) << FormatAutotuneTable(r);
  EXPECT_EQ(h.batches_asked, (std::vector<int64_t>{1, 2, 4, 8, 16}));  // each made once
}

// Threads help (cost halves with 2 threads): one 2-thread instance and two
// 1-thread ones make the same rows per second, and either uses both CPUs
// (which wins a near tie is up to the noise of sleeping threads).
TEST(AutotuneTest, ASettingThatUsesEveryCpuWinsWhenThreadsHelp) {
  Harness h;
  h.cost = [](int64_t rows, int threads) { return microseconds(4000 * rows / threads); };
  AutotuneOptions o = Options(2, 0, 600);
  AutotuneResult r = Autotune(o, h.Factory(), h.Inputs()).value();
  // 1 x 2 threads and 2 x 1 thread both make ~500 rows/s.
  EXPECT_EQ(r.chosen.batch, 1);
  EXPECT_EQ(r.chosen.instances * r.chosen.intra_op_threads, 2) << FormatAutotuneTable(r);
}

// Each layout is prepared (e.g. the BLAS pool sized) with its own thread
// count before it is measured.
TEST(AutotuneTest, EachLayoutIsPreparedBeforeItIsMeasured) {
  Harness h;
  h.cost = [](int64_t, int) { return microseconds(300); };
  AutotuneOptions o = Options(2, 0, 200);
  std::vector<int> prepared;
  o.prepare_layout = [&prepared](int threads) { prepared.push_back(threads); };
  AutotuneResult r = Autotune(o, h.Factory(), h.Inputs()).value();
  ASSERT_GE(prepared.size(), 3u);
  EXPECT_EQ(std::vector<int>(prepared.begin(), prepared.begin() + 3), (std::vector<int>{2, 1, 1}));
}

// A model without a batch dimension is asked for unbatched inputs only.
TEST(AutotuneTest, AnUnbatchedModelTriesLayoutsOnly) {
  Harness h;
  h.cost = [](int64_t, int) { return microseconds(500); };
  AutotuneOptions o = Options(2, 0, 300);
  AutotuneResult r = Autotune(o, h.Factory(), h.Inputs()).value();
  EXPECT_EQ(h.batches_asked, (std::vector<int64_t>{0}));
  ASSERT_EQ(r.points.size(), 3u);
  for (const AutotunePoint& p : r.points) EXPECT_EQ(p.setting.batch, 1);
}

// The p99 target excludes the batches whose executions take too long
// (twice the p99 must fit): 4000 us per execution at batch 8 fits 14 ms,
// 8000 us at batch 16 does not.
TEST(AutotuneTest, TheLatencyTargetBoundsTheBatch) {
  Harness h;
  h.cost = [](int64_t rows, int) {
    return microseconds(rows <= 8 ? 2000 + 250 * rows : 8000 + 250 * rows);
  };
  AutotuneOptions o = Options(1, 16, 1500, 14000);
  AutotuneResult r = Autotune(o, h.Factory(), h.Inputs()).value();
  EXPECT_TRUE(r.target_met);
  EXPECT_EQ(r.chosen, (AutotuneSetting{1, 1, 8})) << FormatAutotuneTable(r);
  bool excluded = false;
  for (const AutotunePoint& p : r.points) {
    if (p.setting.batch == 16) excluded = !p.meets_target;
  }
  EXPECT_TRUE(excluded) << FormatAutotuneTable(r);
}

TEST(AutotuneTest, WhenNothingMeetsTheTargetTheFastestAnswerIsChosen) {
  Harness h;
  // Batch 1 answers 5x sooner than batch 2.
  h.cost = [](int64_t rows, int) { return microseconds(rows == 1 ? 1000 : 2500 * rows); };
  AutotuneOptions o = Options(1, 4, 300, 1);
  AutotuneResult r = Autotune(o, h.Factory(), h.Inputs()).value();
  EXPECT_FALSE(r.target_met);
  EXPECT_EQ(r.chosen.batch, 1);
  EXPECT_NE(FormatAutotuneTable(r).find("no setting met the p99 target"), std::string::npos);
}

// A slow model within a small budget: the batch-1 round runs, the doubling
// stops where the next point would overrun the budget.
TEST(AutotuneTest, TheBudgetBoundsTheSearch) {
  Harness h;
  h.cost = [](int64_t rows, int) { return microseconds(20000 * rows); };
  AutotuneOptions o = Options(1, 64, 100);
  AutotuneResult r = Autotune(o, h.Factory(), h.Inputs()).value();
  ASSERT_FALSE(r.points.empty());
  EXPECT_EQ(r.points[0].setting.batch, 1);
  for (const AutotunePoint& p : r.points) EXPECT_LT(p.setting.batch, 8) << FormatAutotuneTable(r);
}

class FailingInstance : public ModelInstance {
 public:
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>&) override {
    return absl::InvalidArgumentError("shape mismatch in layer 3");
  }
};

TEST(AutotuneTest, AFailingExecutionFailsTheTuningWithTheModelsMessage) {
  Harness h;
  AutotuneOptions o = Options(2, 4, 100);
  auto factory = [](int, int) -> absl::StatusOr<std::unique_ptr<ModelInstance>> {
    return std::make_unique<FailingInstance>();
  };
  absl::StatusOr<AutotuneResult> r = Autotune(o, factory, h.Inputs());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("shape mismatch in layer 3"), std::string::npos);
}

TEST(AutotuneTest, AnInstanceThatCannotBeCreatedFailsTheTuning) {
  Harness h;
  AutotuneOptions o = Options(2, 4, 100);
  auto factory = [](int, int) -> absl::StatusOr<std::unique_ptr<ModelInstance>> {
    return absl::ResourceExhaustedError("no memory for instance");
  };
  EXPECT_EQ(Autotune(o, factory, h.Inputs()).status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace ptserve
