#include "repository/traffic_router.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"

namespace ptserve {
namespace {

absl::Status CheckWeights(const std::vector<TrafficRouter::Variant>& variants) {
  double total = 0;
  for (const auto& v : variants) {
    if (!std::isfinite(v.weight) || v.weight < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("variant '", v.name, "': weight must be a finite number >= 0"));
    }
    if (!v.shadow) total += v.weight;
  }
  if (total <= 0) return absl::InvalidArgumentError("every primary variant has weight 0");
  return absl::OkStatus();
}

// A well-mixed 64-bit hash of the key (SplitMix64 finaliser over a stable
// FNV-1a, so the choice does not change between runs or builds).
uint64_t StableHash(const std::string& key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

}  // namespace

absl::StatusOr<std::shared_ptr<TrafficRouter>> TrafficRouter::Create(
    const config::RoutingConfig& config, const std::string& name) {
  std::vector<Variant> variants;
  for (const auto& v : config.variant()) {
    if (v.model().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("routing of '", name, "': variant '", v.name(), "' names no model"));
    }
    if (v.model() == name) {
      return absl::InvalidArgumentError(
          absl::StrCat("routing of '", name, "': variant '", v.name(), "' routes to itself"));
    }
    variants.push_back({v.name().empty() ? v.model() : v.name(), v.model(), v.version(),
                        v.weight(), v.shadow()});
  }
  if (variants.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("routing of '", name, "' has no variant"));
  }
  if (absl::Status s = CheckWeights(variants); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("routing of '", name, "': ", s.message()));
  }
  std::string header = config.sticky_header().empty() ? "X-Routing-Key" : config.sticky_header();
  return std::shared_ptr<TrafficRouter>(new TrafficRouter(name, header, std::move(variants)));
}

absl::StatusOr<TrafficRouter::Variant> TrafficRouter::Pick(const std::string& key,
                                                           const std::string& forced) const {
  MutexLock lock(mu_);
  if (!forced.empty()) {
    for (const Variant& v : variants_) {
      if (v.name == forced && !v.shadow) return v;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("model '", name_, "' has no variant '", forced, "'"));
  }
  double total = 0;
  for (const Variant& v : variants_) {
    if (!v.shadow) total += v.weight;
  }
  double point;
  if (!key.empty()) {
    point = static_cast<double>(StableHash(key) >> 11) * 0x1.0p-53;
  } else {
    thread_local std::mt19937_64 rng(std::random_device{}());
    point = std::uniform_real_distribution<double>(0, 1)(rng);
  }
  double target = point * total, cumulative = 0;
  const Variant* last = nullptr;
  for (const Variant& v : variants_) {
    if (v.shadow || v.weight <= 0) continue;
    cumulative += v.weight;
    last = &v;
    if (target < cumulative) return v;
  }
  return *last;  // rounding at the top end
}

std::vector<TrafficRouter::Variant> TrafficRouter::Shadows() const {
  MutexLock lock(mu_);
  std::vector<Variant> out;
  for (const Variant& v : variants_) {
    if (v.shadow) out.push_back(v);
  }
  return out;
}

std::vector<TrafficRouter::Variant> TrafficRouter::Variants() const {
  MutexLock lock(mu_);
  return variants_;
}

absl::Status TrafficRouter::SetWeights(const std::map<std::string, double>& weights) {
  MutexLock lock(mu_);
  std::vector<Variant> updated = variants_;
  for (const auto& [name, weight] : weights) {
    bool found = false;
    for (Variant& v : updated) {
      if (v.name == name) {
        v.weight = weight;
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat("model '", name_, "' has no variant '", name, "'"));
    }
  }
  if (absl::Status s = CheckWeights(updated); !s.ok()) return s;
  variants_ = std::move(updated);
  return absl::OkStatus();
}

void TrafficRouter::RecordResult(const std::string& variant, bool ok, double latency_us) {
  MutexLock lock(mu_);
  VariantStats& st = stats_[variant];
  ++st.requests;
  if (!ok) ++st.failures;
  st.latency_sum_us += latency_us;
}

void TrafficRouter::RecordShadowDiff(const std::string& variant, double max_abs_diff) {
  MutexLock lock(mu_);
  VariantStats& st = stats_[variant];
  ++st.compared;
  if (max_abs_diff > st.max_abs_diff || std::isnan(max_abs_diff)) st.max_abs_diff = max_abs_diff;
}

void TrafficRouter::HoldSeries(const std::string& variant, std::shared_ptr<const void> series) {
  MutexLock lock(mu_);
  std::shared_ptr<const void>& held = held_series_[variant];
  if (held != series) held = std::move(series);
}

std::map<std::string, TrafficRouter::VariantStats> TrafficRouter::Stats() const {
  MutexLock lock(mu_);
  return stats_;
}

}  // namespace ptserve
