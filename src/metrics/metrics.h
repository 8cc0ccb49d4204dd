// Prometheus metric types: Counter, Gauge, Histogram, and labelled families
// of them. Debian has no prometheus-cpp; this is the small subset ptserve
// needs, written for a cheap hot path.
//
//   Registry registry;
//   CounterFamily& requests = registry.AddCounter(
//       "app_requests_total", "Requests answered.", {"model", "outcome"});
//   std::shared_ptr<Counter> ok = requests.WithLabels({"mlp", "success"});  // once; cache it
//   ok->Increment();                                                        // per request
//
//   HistogramFamily& latency = registry.AddHistogram(
//       "app_request_duration_seconds", "Time to answer.", {"model"}, DurationBuckets());
//   latency.WithLabels({"mlp"})->ObserveMicros(1234);
//
//   // A value read when Prometheus scrapes (e.g. a queue's depth):
//   Registration r = registry.AddGauge("app_queue_depth", "Queued.", {"model"})
//                        .AddCallback({"mlp"}, [q] { return double(q->size()); });
//   // ~Registration (or r.Release()) removes the series; after it returns the
//   // callback never runs again.
//
// Cost: recording is lock-free — a relaxed atomic add for a counter, a binary
// search over the bucket bounds plus two atomic adds for a histogram. The
// label lookup (WithLabels) takes the family's mutex and a map lookup: do it
// once and keep the returned child.
//
// Lifetime: a child is held by shared_ptr. Remove() stops exporting it, but a
// caller that still holds it may keep recording (the values just go nowhere),
// so removal never races with recording.
//
// Thread-safety: everything here may be called from any thread.
#ifndef PTSERVE_METRICS_METRICS_H_
#define PTSERVE_METRICS_METRICS_H_

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mutex.h"

namespace ptserve::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// A monotonically increasing value. Integer increments are one atomic add;
// fractional ones a compare-and-swap loop on a separate double.
class alignas(64) Counter {
 public:
  void Increment() { integral_.fetch_add(1, std::memory_order_relaxed); }
  void Increment(uint64_t n) { integral_.fetch_add(n, std::memory_order_relaxed); }
  // `v` < 0 or NaN is ignored (a counter never goes down).
  void Add(double v) {
    if (v > 0) fractional_.fetch_add(v, std::memory_order_relaxed);
  }
  double Value() const {
    return static_cast<double>(integral_.load(std::memory_order_relaxed)) +
           fractional_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> integral_{0};
  std::atomic<double> fractional_{0};
};

// A value that goes up and down.
class alignas(64) Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Sub(double v) { value_.fetch_add(-v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (Prometheus `le`: a value v falls
// in the first bucket whose upper bound b has v <= b; above the last bound it
// falls in +Inf). Counts are per bucket (made cumulative at scrape), so an
// observation is one bucket add plus one add to the sum. `_count` is the sum
// of the bucket counts, hence always equal to the +Inf bucket.
class alignas(64) Histogram {
 public:
  // `bounds`: strictly increasing, finite (checked by the family).
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);

  // NaN is ignored.
  void Observe(double v) {
    if (std::isnan(v)) return;
    const std::vector<double>& b = *bounds_;
    const size_t i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), v) - b.begin());
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
  }
  // Observes `us` microseconds in seconds (the Prometheus base unit).
  void ObserveMicros(int64_t us) { Observe(static_cast<double>(us) * 1e-6); }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;  // == cumulative.back()
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_->size() + 1
  std::atomic<double> sum_{0};
};

// Bucket bounds: `count` bounds start, start*factor, start*factor^2, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// Request-latency buckets in seconds, 50 µs to 30 s in a 1-2.5-5 series
// (18 bounds): fine enough for 100 µs models and for 10 s ones.
std::vector<double> DurationBuckets();
// Batch sizes: 1, 2, 4, ..., 256.
std::vector<double> BatchSizeBuckets();

// Undoes a registration (a callback series) when destroyed. Move-only.
class Registration {
 public:
  Registration() = default;
  explicit Registration(std::function<void()> release) : release_(std::move(release)) {}
  Registration(Registration&& other) noexcept : release_(std::move(other.release_)) {
    other.release_ = nullptr;
  }
  Registration& operator=(Registration&& other) noexcept;
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { Release(); }

  // Removes the series now; afterwards its callback never runs. Idempotent.
  void Release();
  bool active() const { return release_ != nullptr; }

 private:
  std::function<void()> release_;
};

// What every family shares; the Registry writes families through this.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends this family's samples (no HELP/TYPE lines) in text format 0.0.4,
  // series ordered by label values. Returns the number of series written.
  virtual size_t WriteSamples(std::string* out) const = 0;

 protected:
  // Aborts with a message when `values` does not match the label names.
  void CheckArity(const std::vector<std::string>& values) const;

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// Counters or gauges: children that hold a value, and callback series whose
// value is read at scrape time.
template <typename Child>
class ScalarFamily : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  // The child for `values` (one per label name, in order), created at 0 on
  // first use. The pointer stays valid for as long as the caller holds it.
  std::shared_ptr<Child> WithLabels(const std::vector<std::string>& values);

  // Stops exporting the child for `values`; with `only` set, only if that
  // exact child is the one registered. Returns whether one was removed.
  bool Remove(const std::vector<std::string>& values, const Child* only = nullptr);

  // A series whose value is `read()` at each scrape, called with the family's
  // mutex held: it must be quick and must not touch this registry. Replaces
  // a child or callback with the same labels. The series lives until the
  // returned Registration is released or destroyed.
  [[nodiscard]] Registration AddCallback(const std::vector<std::string>& values,
                                         std::function<double()> read);

  size_t WriteSamples(std::string* out) const override;

 private:
  struct Callback {
    uint64_t id;
    std::function<double()> read;
  };
  mutable Mutex mu_;
  std::map<std::vector<std::string>, std::shared_ptr<Child>> children_ ABSL_GUARDED_BY(mu_);
  std::map<std::vector<std::string>, Callback> callbacks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_callback_id_ ABSL_GUARDED_BY(mu_) = 1;
};

using CounterFamily = ScalarFamily<Counter>;
using GaugeFamily = ScalarFamily<Gauge>;

class HistogramFamily : public FamilyBase {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);

  // As ScalarFamily::WithLabels.
  std::shared_ptr<Histogram> WithLabels(const std::vector<std::string>& values);
  bool Remove(const std::vector<std::string>& values, const Histogram* only = nullptr);

  const std::vector<double>& bounds() const { return *bounds_; }
  size_t WriteSamples(std::string* out) const override;

 private:
  const std::shared_ptr<const std::vector<double>> bounds_;
  mutable Mutex mu_;
  std::map<std::vector<std::string>, std::shared_ptr<Histogram>> children_ ABSL_GUARDED_BY(mu_);
};

namespace internal {
// Prints `message` to stderr and aborts: for programming errors (a bad metric
// name, a wrong number of label values).
[[noreturn]] void Die(const std::string& message);
}  // namespace internal

}  // namespace ptserve::metrics

#endif  // PTSERVE_METRICS_METRICS_H_
