// Log-linear latency histogram and a time-bucketed series of them.
//
//   Histogram h;
//   h.Record(1500);                        // nanoseconds
//   double p99_ns = h.ValueAtPercentile(99.0);
//   other.Merge(h);
//
// Buckets: values below 2^(kSubBucketBits+1) ns are exact; above that each power of two is split
// into 2^kSubBucketBits equal sub-buckets, so a bucket is at most 1/128 (0.78%) of its lower
// bound wide and the reported midpoint is within 0.4% of every value in it. Values are clamped to
// [0, kMaxValueNs] (100 s). Memory is fixed (~33 KB), recording is O(1) and allocation-free.
// Not thread-safe: use one per thread and Merge().
#ifndef PTSERVE_BENCH_HISTOGRAM_H_
#define PTSERVE_BENCH_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace ptserve::bench {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr int64_t kMaxValueNs = 100'000'000'000;  // 100 s

  Histogram();

  // Records one value (nanoseconds). Negative values count as 0, values above kMaxValueNs as
  // kMaxValueNs.
  void Record(int64_t value_ns) { RecordN(value_ns, 1); }
  void RecordN(int64_t value_ns, uint64_t count);
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return count_ == 0 ? 0 : max_; }
  double Mean() const;

  // The value at percentile p in [0, 100] using the nearest-rank definition (the smallest
  // recorded value v such that at least p% of values are <= v), within 0.4% (bucket midpoint,
  // clamped to the exact min and max). 0 when empty.
  double ValueAtPercentile(double p) const;

  // Number of recorded values whose bucket midpoint lies in [lo_ns, hi_ns).
  uint64_t CountInRange(int64_t lo_ns, int64_t hi_ns) const;

  // Bucket geometry, exposed for tests and the report.
  static int BucketIndex(int64_t value_ns);
  static int64_t BucketLow(int index);
  static int64_t BucketHigh(int index);  // exclusive
  static int NumBuckets();

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  double sum_ = 0;
};

// A histogram per time bucket since a start time (for heat maps and percentile curves). The
// bucket width starts at `initial_width_ns`; when more than `max_buckets` would be needed, the
// width doubles and neighbouring buckets are merged, so memory stays bounded on long runs.
// Not thread-safe.
class TimeSeries {
 public:
  explicit TimeSeries(int64_t initial_width_ns = 1'000'000'000, int max_buckets = 256);

  // Records `value_ns` observed at `t_ns` (nanoseconds since the series start; negative → 0).
  void Record(int64_t t_ns, int64_t value_ns);
  // Merges another series; widths are aligned by coarsening the finer one.
  void Merge(const TimeSeries& other);

  int64_t width_ns() const { return width_ns_; }
  const std::vector<Histogram>& buckets() const { return buckets_; }

 private:
  void Coarsen();
  int64_t width_ns_;
  int max_buckets_;
  std::vector<Histogram> buckets_;
};

}  // namespace ptserve::bench

#endif  // PTSERVE_BENCH_HISTOGRAM_H_
