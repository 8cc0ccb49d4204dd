#include "arrival.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace ptserve::bench {
namespace {

TEST(ArrivalTest, PoissonGapsHaveExponentialMeanAndVariance) {
  const double rate = 2000;  // mean gap 500 us
  ArrivalSchedule s(ArrivalSchedule::Distribution::kPoisson, rate, 42);
  const int n = 200000;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    const double g = static_cast<double>(s.NextGapNs());
    sum += g;
    sum_sq += g * g;
  }
  const double mean = sum / n;
  const double var = sum_sq / n - mean * mean;
  const double want_mean = 1e9 / rate;
  EXPECT_NEAR(mean, want_mean, want_mean * 0.01);
  EXPECT_NEAR(var, want_mean * want_mean, want_mean * want_mean * 0.03);  // exponential: var = mean^2
}

TEST(ArrivalTest, PoissonCountsPerIntervalHaveEqualMeanAndVariance) {
  // Arrivals in fixed windows of a Poisson process are Poisson distributed: mean == variance.
  ArrivalSchedule s(ArrivalSchedule::Distribution::kPoisson, 10000, 9);
  const int64_t window = 1'000'000;  // 1 ms → mean 10 per window
  std::vector<int> counts(20000, 0);
  int64_t t = 0;
  for (;;) {
    t += s.NextGapNs();
    const int64_t w = t / window;
    if (w >= static_cast<int64_t>(counts.size())) break;
    ++counts[w];
  }
  double sum = 0, sum_sq = 0;
  for (int c : counts) {
    sum += c;
    sum_sq += static_cast<double>(c) * c;
  }
  const double mean = sum / counts.size(), var = sum_sq / counts.size() - mean * mean;
  EXPECT_NEAR(mean, 10, 0.2);
  EXPECT_NEAR(var, mean, mean * 0.05);
}

TEST(ArrivalTest, ConstantGapsAreExactOnAverage) {
  ArrivalSchedule s(ArrivalSchedule::Distribution::kConstant, 3000, 1);  // 333333.33 ns
  int64_t total = 0;
  for (int i = 0; i < 3000; ++i) {
    const int64_t g = s.NextGapNs();
    EXPECT_TRUE(g == 333333 || g == 333334) << g;
    total += g;
  }
  EXPECT_NEAR(total, 1'000'000'000, 1);
}

TEST(ArrivalTest, SeedMakesRunsReproducible) {
  ArrivalSchedule a(ArrivalSchedule::Distribution::kPoisson, 100, 5);
  ArrivalSchedule b(ArrivalSchedule::Distribution::kPoisson, 100, 5);
  ArrivalSchedule c(ArrivalSchedule::Distribution::kPoisson, 100, 6);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const int64_t ga = a.NextGapNs();
    EXPECT_EQ(ga, b.NextGapNs());
    differs |= ga != c.NextGapNs();
  }
  EXPECT_TRUE(differs);
}

TEST(ArrivalTest, ParsesDistributionNames) {
  EXPECT_EQ(*ParseDistribution("poisson"), ArrivalSchedule::Distribution::kPoisson);
  EXPECT_EQ(*ParseDistribution("constant"), ArrivalSchedule::Distribution::kConstant);
  EXPECT_FALSE(ParseDistribution("uniform").ok());
  EXPECT_EQ(DistributionName(ArrivalSchedule::Distribution::kPoisson), "poisson");
}

}  // namespace
}  // namespace ptserve::bench
