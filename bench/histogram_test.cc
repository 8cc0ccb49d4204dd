#include "histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace ptserve::bench {
namespace {

// Nearest-rank percentile of sorted data, the definition Histogram uses.
double Reference(const std::vector<int64_t>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]);
}

TEST(HistogramTest, BucketsAreContiguousAndNarrow) {
  for (int i = 0; i + 1 < Histogram::NumBuckets(); ++i) {
    ASSERT_EQ(Histogram::BucketHigh(i), Histogram::BucketLow(i + 1)) << i;
    const double width = Histogram::BucketHigh(i) - Histogram::BucketLow(i);
    if (i < 256) {  // exact region: one nanosecond per bucket
      ASSERT_EQ(width, 1);
      continue;
    }
    ASSERT_LE(width / std::max<int64_t>(Histogram::BucketLow(i), 1), 1.0 / 128 + 1e-12) << i;
  }
  for (int64_t v : {0LL, 1LL, 255LL, 256LL, 257LL, 1000LL, 123456789LL, 99'999'999'999LL}) {
    const int b = Histogram::BucketIndex(v);
    EXPECT_LE(Histogram::BucketLow(b), v);
    EXPECT_GT(Histogram::BucketHigh(b), v);
  }
  EXPECT_EQ(Histogram::BucketIndex(Histogram::kMaxValueNs * 10), Histogram::NumBuckets() - 1);
}

TEST(HistogramTest, PercentilesMatchSortedReferenceWithinOnePercent) {
  std::mt19937_64 rng(7);
  // Log-uniform from 1 us to 100 s, plus a narrow cluster to exercise dense buckets.
  std::uniform_real_distribution<double> log_value(std::log(1e3), std::log(1e11));
  std::normal_distribution<double> cluster(250e3, 20e3);
  for (int round = 0; round < 4; ++round) {
    Histogram h;
    std::vector<int64_t> values;
    const int n = 20000 + round * 17000;
    for (int i = 0; i < n; ++i) {
      int64_t v = (i % 3 == 0) ? static_cast<int64_t>(std::max(1e3, cluster(rng)))
                               : static_cast<int64_t>(std::exp(log_value(rng)));
      values.push_back(v);
      h.Record(v);
    }
    std::sort(values.begin(), values.end());
    EXPECT_EQ(h.count(), values.size());
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    for (double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
      const double want = Reference(values, p);
      EXPECT_NEAR(h.ValueAtPercentile(p), want, want * 0.01) << "p" << p << " round " << round;
    }
  }
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (int v = 0; v < 200; ++v) h.Record(v);
  EXPECT_DOUBLE_EQ(h.ValueAtPercentile(50), 99);
  EXPECT_DOUBLE_EQ(h.ValueAtPercentile(100), 199);
  EXPECT_DOUBLE_EQ(h.Mean(), 99.5);
}

TEST(HistogramTest, MergeEqualsRecordingEverything) {
  Histogram a, b, all;
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> dist(12, 1.5);
  for (int i = 0; i < 5000; ++i) {
    int64_t v = static_cast<int64_t>(dist(rng));
    (i % 2 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {50.0, 90.0, 99.0}) EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p));
  a.Reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.ValueAtPercentile(50), 0);
}

TEST(HistogramTest, ClampsOutOfRange) {
  Histogram h;
  h.Record(-5);
  h.Record(Histogram::kMaxValueNs * 3);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), Histogram::kMaxValueNs);
}

TEST(HistogramTest, CountInRangeSumsToTotal) {
  Histogram h;
  for (int i = 1; i <= 10000; ++i) h.Record(i * 997);
  uint64_t sum = 0;
  for (int64_t lo = 0; lo < 20'000'000; lo += 123'457) sum += h.CountInRange(lo, lo + 123'457);
  EXPECT_EQ(sum, h.count());
}

TEST(TimeSeriesTest, BucketsByTimeAndCoarsens) {
  TimeSeries s(/*initial_width_ns=*/1000, /*max_buckets=*/8);
  for (int t = 0; t < 8000; t += 10) s.Record(t, 5000);
  EXPECT_EQ(s.width_ns(), 1000);
  EXPECT_EQ(s.buckets().size(), 8u);
  s.Record(20'000, 7000);  // needs 21 buckets of 1000 → width 4000, 6 buckets
  EXPECT_EQ(s.width_ns(), 4000);
  uint64_t total = 0;
  for (const Histogram& h : s.buckets()) total += h.count();
  EXPECT_EQ(total, 801u);
  EXPECT_EQ(s.buckets()[0].count(), 400u);

  TimeSeries fine(1000, 8);
  fine.Record(500, 1);
  s.Merge(fine);
  EXPECT_EQ(s.buckets()[0].count(), 401u);
}

}  // namespace
}  // namespace ptserve::bench
