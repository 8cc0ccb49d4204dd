#include "scheduler/autotune.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/clock.h"

namespace ptserve {
namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t MicrosSince(SteadyTime start) { return MicrosBetween(start, SteadyClock::now()); }

// The instances of one layout, created once and measured at each batch size.
struct Layout {
  int instances = 1;
  int threads = 1;
  std::vector<std::unique_ptr<ModelInstance>> created;
  double best_rows_per_second = 0;
  int64_t last_p50_us = 0;
  int misses = 0;  // doublings in a row that did not pay; two end the layout
};

int64_t Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(std::lround(q * (sorted.size() - 1))));
  return sorted[i];
}

// Where the measuring threads of one point meet: each reports its warm-up
// run, and the clock starts when all have (a failed one reports too).
struct StartLine {
  std::mutex mu;
  std::condition_variable cv;
  size_t arrived = 0;
  bool go = false;
  SteadyTime start;
  std::atomic<int64_t> end_us{0};  // when the last thread finished, from `start`

  // Called by a thread when it is ready (or gave up); returns the start.
  SteadyTime Arrive(bool wait) {
    std::unique_lock<std::mutex> lock(mu);
    ++arrived;
    cv.notify_all();
    if (wait) cv.wait(lock, [&] { return go; });
    return start;
  }
  void StartWhenAll(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return arrived == n; });
    start = SteadyClock::now();
    go = true;
    cv.notify_all();
  }
  void Finished() {
    const int64_t mine = MicrosSince(start);
    int64_t seen = end_us.load();
    while (mine > seen && !end_us.compare_exchange_weak(seen, mine)) {
    }
  }
};

// One measuring thread: binds `instance`, runs it once untimed (a new shape
// may be specialised on its first run), waits at `line`, then runs it until
// `slice_us` has passed and at least twice, recording each execution's time.
// `arrived` says whether it reached the line.
absl::Status RunTimed(ModelInstance& instance, const std::vector<Tensor>& inputs, int64_t slice_us,
                      StartLine& line, std::vector<int64_t>& latencies, bool& arrived) {
  instance.BindToThread();
  absl::StatusOr<std::vector<Tensor>> out = instance.Execute(inputs);
  if (!out.ok()) return out.status();
  arrived = true;
  const SteadyTime start = line.Arrive(/*wait=*/true);
  for (int64_t done = 0; done < 2 || MicrosSince(start) < slice_us; ++done) {
    const SteadyTime t0 = SteadyClock::now();
    out = instance.Execute(inputs);
    if (!out.ok()) return out.status();
    latencies.push_back(MicrosSince(t0));
  }
  line.Finished();
  return absl::OkStatus();
}

// RunTimed, with whatever it throws as an error; a thread that fails before
// the line still reports there, so that the others do not wait for it.
absl::Status RunInstance(ModelInstance& instance, const std::vector<Tensor>& inputs,
                         int64_t slice_us, StartLine& line, std::vector<int64_t>& latencies) {
  bool arrived = false;
  absl::Status status;
  try {
    status = RunTimed(instance, inputs, slice_us, line, latencies, arrived);
  } catch (const std::exception& e) {
    status = absl::InternalError(e.what());
  } catch (...) {
    status = absl::InternalError("an unknown exception");
  }
  if (!arrived) line.Arrive(/*wait=*/false);
  return status;
}

// Runs every instance of `layout` on its own thread, together, on `inputs`
// (RunInstance), and sums up what they measured.
absl::StatusOr<AutotunePoint> Measure(Layout& layout, const std::vector<Tensor>& inputs,
                                      int64_t batch_rows, int64_t slice_us) {
  const size_t n = layout.created.size();
  std::vector<std::vector<int64_t>> latencies(n);
  std::vector<absl::Status> errors(n);
  StartLine line;
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      errors[i] = RunInstance(*layout.created[i], inputs, slice_us, line, latencies[i]);
    });
  }
  line.StartWhenAll(n);
  for (std::thread& t : threads) t.join();
  for (const absl::Status& e : errors) {
    if (!e.ok()) return e;
  }
  AutotunePoint point;
  point.setting = {layout.instances, layout.threads, std::max<int64_t>(batch_rows, 1)};
  std::vector<int64_t> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  point.executions = static_cast<int64_t>(all.size());
  point.p50_us = Percentile(all, 0.5);
  point.p99_us = Percentile(all, 0.99);
  const double wall_s = std::max<int64_t>(line.end_us.load(), 1) / 1e6;
  point.rows_per_second = static_cast<double>(point.executions) * point.setting.batch / wall_s;
  return point;
}

// The setting to serve: see Autotune().
void Choose(const AutotuneOptions& options, AutotuneResult& result) {
  for (AutotunePoint& p : result.points) {
    p.meets_target = options.p99_target_us <= 0 || 2 * p.p99_us <= options.p99_target_us;
  }
  const AutotunePoint* best = nullptr;
  for (const AutotunePoint& p : result.points) {
    if (p.meets_target && (!best || p.rows_per_second > best->rows_per_second)) best = &p;
  }
  result.target_met = best != nullptr;
  if (!best) {  // nothing meets the target: the fastest answers
    for (const AutotunePoint& p : result.points) {
      if (!best || p.p99_us < best->p99_us) best = &p;
    }
    result.chosen = best->setting;
    result.chosen_rows_per_second = best->rows_per_second;
    return;
  }
  const auto smaller = [](const AutotunePoint& q) {
    return std::make_pair(q.setting.batch, q.setting.instances);
  };
  const AutotunePoint* chosen = best;
  for (const AutotunePoint& p : result.points) {
    if (!p.meets_target || p.rows_per_second < 0.97 * best->rows_per_second) continue;
    if (smaller(p) < smaller(*chosen)) chosen = &p;
  }
  result.chosen = chosen->setting;
  result.chosen_rows_per_second = chosen->rows_per_second;
}

std::string DescribeSetting(const AutotuneSetting& s) {
  return absl::StrCat("instances=", s.instances, " intra_op_threads=", s.intra_op_threads,
                      " batch=", s.batch);
}

}  // namespace

std::vector<std::pair<int, int>> AutotuneLayouts(int cpus) {
  cpus = std::max(1, cpus);
  std::vector<std::pair<int, int>> layouts;
  for (int n = 1; n <= cpus; ++n) {
    std::vector<int> threads;
    for (int t = 1; n * t <= cpus; t *= 2) threads.push_back(t);
    if (std::find(threads.begin(), threads.end(), cpus / n) == threads.end()) {
      threads.push_back(cpus / n);
    }
    for (int t : threads) layouts.emplace_back(n, t);
  }
  std::sort(layouts.begin(), layouts.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return layouts;
}

absl::StatusOr<AutotuneResult> Autotune(const AutotuneOptions& options,
                                        const AutotuneInstanceFactory& make_instance,
                                        const AutotuneBatchInputs& batch_inputs) {
  const auto started = SteadyClock::now();
  const int64_t budget_us = std::max<int64_t>(options.budget_ms, 1) * 1000;
  const bool batched = options.max_batch > 0;
  const int64_t max_batch =
      batched ? std::max<int64_t>(1, std::min(options.max_batch, options.max_tuned_batch)) : 1;
  int batch_steps = 1;
  for (int64_t b = 2; b <= max_batch; b *= 2) ++batch_steps;

  std::vector<Layout> layouts;
  for (const auto& [n, t] : AutotuneLayouts(options.cpus)) {
    Layout layout;
    layout.instances = n;
    layout.threads = t;
    layouts.push_back(std::move(layout));
  }
  // The time one point gets: the budget shared by every point that may run.
  const int64_t slice_us =
      std::max<int64_t>(5000, budget_us / static_cast<int64_t>(layouts.size() * batch_steps) / 2);

  AutotuneResult result;
  std::vector<std::vector<Tensor>> inputs_by_step(batch_steps);
  auto inputs_for = [&](int step, int64_t rows) -> absl::StatusOr<const std::vector<Tensor>*> {
    if (inputs_by_step[step].empty()) {
      absl::StatusOr<std::vector<Tensor>> made = batch_inputs(batched ? rows : 0);
      if (!made.ok()) return made.status();
      inputs_by_step[step] = std::move(*made);
    }
    return &inputs_by_step[step];
  };
  struct Measured {
    size_t layout;
    int step;
  };
  std::vector<Measured> origin;  // per result.points entry
  auto measure = [&](size_t li, int step) -> absl::StatusOr<AutotunePoint> {
    Layout& layout = layouts[li];
    const int64_t rows = int64_t{1} << step;
    if (options.prepare_layout) options.prepare_layout(layout.threads);
    if (layout.created.empty()) {
      for (int i = 0; i < layout.instances; ++i) {
        absl::StatusOr<std::unique_ptr<ModelInstance>> instance = make_instance(i, layout.threads);
        if (!instance.ok()) return instance.status();
        layout.created.push_back(std::move(*instance));
      }
    }
    absl::StatusOr<const std::vector<Tensor>*> inputs = inputs_for(step, rows);
    if (!inputs.ok()) return inputs.status();
    return Measure(layout, **inputs, batched ? rows : 0, slice_us);
  };
  // The search: batch 1 on every layout, then doubling.
  for (int step = 0; step < batch_steps; ++step) {
    for (size_t li = 0; li < layouts.size(); ++li) {
      Layout& layout = layouts[li];
      if (step > 0) {
        if (layout.misses >= 2) continue;
        // The next point's cost, guessed from this layout's last one.
        const int64_t guess = layout.last_p50_us * 2 * 3 + slice_us;
        if (MicrosSince(started) + guess > budget_us) continue;
      }
      absl::StatusOr<AutotunePoint> point = measure(li, step);
      if (!point.ok()) return point.status();
      const bool paid = step == 0 || point->rows_per_second >= 1.03 * layout.best_rows_per_second;
      layout.misses = paid ? 0 : layout.misses + 1;
      layout.best_rows_per_second = std::max(layout.best_rows_per_second, point->rows_per_second);
      layout.last_p50_us = point->p50_us;
      result.points.push_back(*point);
      origin.push_back({li, step});
    }
  }
  // Confirmation: a busy machine only ever slows a measurement down, so the
  // leaders are measured again while the budget lasts and keep their best run.
  constexpr size_t kLeaders = 3;
  for (int round = 0; round < 3; ++round) {
    std::vector<size_t> order(result.points.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return result.points[a].rows_per_second > result.points[b].rows_per_second;
    });
    if (order.size() > kLeaders) order.resize(kLeaders);
    bool measured = false;
    for (size_t i : order) {
      const int64_t guess = result.points[i].p50_us * 3 + slice_us;
      if (MicrosSince(started) + guess > budget_us) continue;
      absl::StatusOr<AutotunePoint> again = measure(origin[i].layout, origin[i].step);
      if (!again.ok()) return again.status();
      AutotunePoint& kept = result.points[i];
      again->executions += kept.executions;
      if (again->rows_per_second > kept.rows_per_second) {
        kept = *again;
      } else {
        kept.executions = again->executions;
      }
      measured = true;
    }
    if (!measured) break;
  }
  Choose(options, result);
  result.seconds = MicrosSince(started) / 1e6;
  return result;
}

std::string FormatAutotuneTable(const AutotuneResult& result) {
  std::string out = absl::StrFormat("%9s %7s %6s %12s %10s %10s %6s\n", "instances", "threads",
                                    "batch", "rows/s", "p50_us", "p99_us", "runs");
  for (const AutotunePoint& p : result.points) {
    absl::StrAppendFormat(&out, "%9d %7d %6d %12.1f %10d %10d %6d%s%s\n", p.setting.instances,
                          p.setting.intra_op_threads, p.setting.batch, p.rows_per_second, p.p50_us,
                          p.p99_us, p.executions, p.meets_target ? "" : "  (over the p99 target)",
                          p.setting == result.chosen ? "  <- chosen" : "");
  }
  absl::StrAppendFormat(&out, "chosen: %s rows_per_s=%.1f tuning_s=%.2f%s",
                        DescribeSetting(result.chosen), result.chosen_rows_per_second,
                        result.seconds,
                        result.target_met ? "" : " (no setting met the p99 target)");
  return out;
}

}  // namespace ptserve
