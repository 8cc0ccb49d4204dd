#include "arrival.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace ptserve::bench {

ArrivalSchedule::ArrivalSchedule(Distribution distribution, double rate_per_s, uint64_t seed)
    : distribution_(distribution),
      rate_per_s_(rate_per_s),
      mean_gap_ns_(1e9 / rate_per_s),
      rng_(seed),
      exp_(1.0) {}

int64_t ArrivalSchedule::NextGapNs() {
  double gap = distribution_ == Distribution::kConstant ? mean_gap_ns_ : exp_(rng_) * mean_gap_ns_;
  // Carry the fractional part so that integer gaps still sum to the exact rate.
  gap += carry_ns_;
  const double whole = std::floor(gap);
  carry_ns_ = gap - whole;
  return static_cast<int64_t>(whole);
}

absl::StatusOr<ArrivalSchedule::Distribution> ParseDistribution(absl::string_view name) {
  if (name == "constant") return ArrivalSchedule::Distribution::kConstant;
  if (name == "poisson") return ArrivalSchedule::Distribution::kPoisson;
  return absl::InvalidArgumentError(
      absl::StrCat("--request-distribution must be constant or poisson, got '", name, "'"));
}

absl::string_view DistributionName(ArrivalSchedule::Distribution d) {
  return d == ArrivalSchedule::Distribution::kConstant ? "constant" : "poisson";
}

}  // namespace ptserve::bench
