// TrafficRouter: A/B splits for a routed model name. A config.pbtxt with a
// `routing { variant { name model version weight shadow } ... }` block (our
// extension; no version directories) makes its model name a router: each
// request goes to one primary variant, chosen by weight; shadow variants
// get a copy whose answer is dropped.
//
//   auto router = TrafficRouter::Create(config.routing(), "ab").value();
//   const Variant& v = router->Pick(routing_key, forced_name);
//
// Choice: a forced variant name wins; else a routing key (a sticky client
// id) is hashed to a point in [0,1) so the same key keeps its variant while
// the weights stay the same; else a random point. Weights change live
// (SetWeights) without a restart. Thread-safe.
#ifndef PTSERVE_REPOSITORY_TRAFFIC_ROUTER_H_
#define PTSERVE_REPOSITORY_TRAFFIC_ROUTER_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/model_config.pb.h"
#include "core/mutex.h"

namespace ptserve {

class TrafficRouter {
 public:
  struct Variant {
    std::string name;
    std::string model;
    std::string version;  // "" = the model's newest ready version
    double weight = 0;
    bool shadow = false;
  };

  static absl::StatusOr<std::shared_ptr<TrafficRouter>> Create(const config::RoutingConfig& config,
                                                               const std::string& name);

  const std::string& name() const { return name_; }
  // The header whose value makes the choice sticky ("" = X-Routing-Key).
  const std::string& sticky_header() const { return sticky_header_; }

  // The primary variant for a request. `forced`: a variant name (must exist,
  // may be any primary); `key`: a sticky routing key ("" = none).
  absl::StatusOr<Variant> Pick(const std::string& key, const std::string& forced) const;

  // Every shadow variant.
  std::vector<Variant> Shadows() const;

  // Replaces the weights of the named variants (others keep theirs).
  // InvalidArgument for an unknown name, a negative weight or all-zero
  // primary weights; then nothing changes.
  absl::Status SetWeights(const std::map<std::string, double>& weights);

  std::vector<Variant> Variants() const;

  // What each variant served, for the routing endpoint (metrics carry the
  // same facts with a `variant` label).
  struct VariantStats {
    uint64_t requests = 0;
    uint64_t failures = 0;
    double latency_sum_us = 0;
    // Shadows: answers compared with the primary's, and the largest
    // absolute difference seen in the first output.
    uint64_t compared = 0;
    double max_abs_diff = 0;
  };
  void RecordResult(const std::string& variant, bool ok, double latency_us);
  void RecordShadowDiff(const std::string& variant, double max_abs_diff);
  std::map<std::string, VariantStats> Stats() const;

  // Keeps `series` (the metrics of `variant`'s requests, which are exported
  // only while someone holds them) alive as long as this router serves; a
  // later call for the same variant replaces it (its version changed).
  void HoldSeries(const std::string& variant, std::shared_ptr<const void> series);

 private:
  TrafficRouter(std::string name, std::string sticky_header, std::vector<Variant> variants)
      : name_(std::move(name)), sticky_header_(std::move(sticky_header)), variants_(std::move(variants)) {}

  const std::string name_;
  const std::string sticky_header_;
  mutable Mutex mu_;
  std::vector<Variant> variants_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, VariantStats> stats_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const void>> held_series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_TRAFFIC_ROUTER_H_
