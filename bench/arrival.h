// Arrival processes for open-loop load: the gaps between intended send times.
//
//   ArrivalSchedule s(ArrivalSchedule::Distribution::kPoisson, /*rate_per_s=*/1000, /*seed=*/42);
//   int64_t next_ns = start_ns;
//   for (;;) { next_ns += s.NextGapNs(); ... send at next_ns ... }
//
// Constant: every gap is 1e9/rate ns (fractions carried, so the long-run rate is exact).
// Poisson: gaps are exponential with mean 1e9/rate ns, drawn from a seeded mt19937_64, so a run
// is reproducible given the seed. Not thread-safe: one schedule per thread.
#ifndef PTSERVE_BENCH_ARRIVAL_H_
#define PTSERVE_BENCH_ARRIVAL_H_

#include <cstdint>
#include <random>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace ptserve::bench {

class ArrivalSchedule {
 public:
  enum class Distribution { kConstant, kPoisson };

  // `rate_per_s` must be > 0.
  ArrivalSchedule(Distribution distribution, double rate_per_s, uint64_t seed);

  // The gap to the next arrival, in nanoseconds (>= 0).
  int64_t NextGapNs();

  Distribution distribution() const { return distribution_; }
  double rate_per_s() const { return rate_per_s_; }

 private:
  Distribution distribution_;
  double rate_per_s_;
  double mean_gap_ns_;
  double carry_ns_ = 0;  // fractional nanoseconds not yet handed out
  std::mt19937_64 rng_;
  std::exponential_distribution<double> exp_;
};

// "constant" | "poisson".
absl::StatusOr<ArrivalSchedule::Distribution> ParseDistribution(absl::string_view name);
absl::string_view DistributionName(ArrivalSchedule::Distribution d);

}  // namespace ptserve::bench

#endif  // PTSERVE_BENCH_ARRIVAL_H_
