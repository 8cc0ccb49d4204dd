#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace ptserve::bench {
namespace {

constexpr int kSubCount = 1 << Histogram::kSubBucketBits;

int64_t Clamp(int64_t v) { return std::clamp<int64_t>(v, 0, Histogram::kMaxValueNs); }

}  // namespace

// Index layout: values v < 2*kSubCount map to index v. Above, with shift = msb(v) - kSubBucketBits,
// index = shift * kSubCount + (v >> shift); (v >> shift) lies in [kSubCount, 2*kSubCount), so
// indices are contiguous across powers of two.
int Histogram::BucketIndex(int64_t value_ns) {
  const uint64_t v = static_cast<uint64_t>(Clamp(value_ns));
  if (v < 2 * kSubCount) return static_cast<int>(v);
  const int msb = 63 - std::countl_zero(v);
  const int shift = msb - kSubBucketBits;
  return shift * kSubCount + static_cast<int>(v >> shift);
}

int64_t Histogram::BucketLow(int index) {
  if (index < 2 * kSubCount) return index;
  const int shift = index / kSubCount - 1;
  const int64_t mantissa = index - shift * kSubCount;
  return mantissa << shift;
}

int64_t Histogram::BucketHigh(int index) {
  if (index < 2 * kSubCount) return index + 1;
  const int shift = index / kSubCount - 1;
  return BucketLow(index) + (int64_t{1} << shift);
}

int Histogram::NumBuckets() { return BucketIndex(kMaxValueNs) + 1; }

Histogram::Histogram() : counts_(NumBuckets(), 0) {}

void Histogram::RecordN(int64_t value_ns, uint64_t count) {
  if (count == 0) return;
  value_ns = Clamp(value_ns);
  counts_[BucketIndex(value_ns)] += count;
  if (count_ == 0 || value_ns < min_) min_ = value_ns;
  if (count_ == 0 || value_ns > max_) max_ = value_ns;
  count_ += count;
  sum_ += static_cast<double>(value_ns) * static_cast<double>(count);
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  if (count_ == 0 || other.max_ > max_) max_ = other.max_;
  count_ += other.count_;
  sum_ += other.sum_;
}

void Histogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = max_ = 0;
  sum_ = 0;
}

double Histogram::Mean() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }

double Histogram::ValueAtPercentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const int idx = static_cast<int>(i);
      const double mid = idx < 2 * kSubCount
                             ? static_cast<double>(idx)
                             : 0.5 * static_cast<double>(BucketLow(idx) + BucketHigh(idx) - 1);
      return std::clamp(mid, static_cast<double>(min_), static_cast<double>(max_));
    }
  }
  return static_cast<double>(max_);
}

uint64_t Histogram::CountInRange(int64_t lo_ns, int64_t hi_ns) const {
  if (count_ == 0 || hi_ns <= lo_ns) return 0;
  uint64_t total = 0;
  const int first = BucketIndex(std::max<int64_t>(lo_ns, 0));
  const int last = BucketIndex(std::min<int64_t>(hi_ns, kMaxValueNs));
  for (int i = std::max(first - 1, 0); i <= last && i < static_cast<int>(counts_.size()); ++i) {
    if (counts_[i] == 0) continue;
    const int64_t mid = (BucketLow(i) + BucketHigh(i) - 1) / 2;
    if (mid >= lo_ns && mid < hi_ns) total += counts_[i];
  }
  return total;
}

TimeSeries::TimeSeries(int64_t initial_width_ns, int max_buckets)
    : width_ns_(std::max<int64_t>(initial_width_ns, 1)), max_buckets_(std::max(max_buckets, 2)) {}

void TimeSeries::Record(int64_t t_ns, int64_t value_ns) {
  t_ns = std::max<int64_t>(t_ns, 0);
  int64_t idx = t_ns / width_ns_;
  while (idx >= max_buckets_) {
    Coarsen();
    idx = t_ns / width_ns_;
  }
  if (idx >= static_cast<int64_t>(buckets_.size())) buckets_.resize(idx + 1);
  buckets_[idx].Record(value_ns);
}

void TimeSeries::Coarsen() {
  std::vector<Histogram> merged((buckets_.size() + 1) / 2);
  for (size_t i = 0; i < buckets_.size(); ++i) merged[i / 2].Merge(buckets_[i]);
  buckets_ = std::move(merged);
  width_ns_ *= 2;
}

void TimeSeries::Merge(const TimeSeries& other) {
  while (width_ns_ < other.width_ns_) Coarsen();
  for (size_t i = 0; i < other.buckets_.size(); ++i) {
    const int64_t start = static_cast<int64_t>(i) * other.width_ns_;
    while (start / width_ns_ >= max_buckets_) Coarsen();
    const int64_t idx = start / width_ns_;
    if (idx >= static_cast<int64_t>(buckets_.size())) buckets_.resize(idx + 1);
    buckets_[idx].Merge(other.buckets_[i]);
  }
}

}  // namespace ptserve::bench
