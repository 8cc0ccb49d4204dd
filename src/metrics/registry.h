// Registry: the set of metric families one process exposes, and Scrape(),
// which writes them all in the Prometheus text format 0.0.4 (HELP and TYPE
// lines, escaped label values, histograms as _bucket{le=...}/_sum/_count).
//
//   Registry registry;
//   CounterFamily& c = registry.AddCounter("x_total", "Things.", {"kind"});
//   c.WithLabels({"a"})->Increment();
//   std::string text = registry.Scrape();
//   // # HELP x_total Things.
//   // # TYPE x_total counter
//   // x_total{kind="a"} 1
//
// Families come out sorted by name and series by label values, so a scrape
// is deterministic. A family with no series writes nothing (not even HELP).
//
// Thread-safety: all methods may be called from any thread. Add* return
// references that stay valid for the registry's lifetime; the registry must
// outlive every Registration made on its families.
#ifndef PTSERVE_METRICS_REGISTRY_H_
#define PTSERVE_METRICS_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "metrics/metrics.h"

namespace ptserve::metrics {

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each Add* aborts (a programming error) on an invalid metric or label name
  // or a name already registered. Names follow Prometheus conventions: base
  // units (`_seconds`, `_bytes`), counters end in `_total`.
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names, std::vector<double> bounds);

  // Every family with at least one series, in text format 0.0.4 (serve it
  // with Content-Type kTextContentType from text_format.h).
  std::string Scrape() const;
  void ScrapeTo(std::string* out) const;

 private:
  FamilyBase& Add(std::unique_ptr<FamilyBase> family);

  mutable Mutex mu_;  // guards the map, not the families
  std::map<std::string, std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptserve::metrics

#endif  // PTSERVE_METRICS_REGISTRY_H_
