#include "metrics/registry.h"

#include "metrics/text_format.h"

namespace ptserve::metrics {
namespace {

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

// The sample names a family writes; two families may not share one.
std::vector<std::string> SampleNames(const FamilyBase& f) {
  if (f.type() != MetricType::kHistogram) return {f.name()};
  return {f.name(), f.name() + "_bucket", f.name() + "_sum", f.name() + "_count"};
}

}  // namespace

FamilyBase& Registry::Add(std::unique_ptr<FamilyBase> family) {
  MutexLock lock(mu_);
  const std::vector<std::string> mine = SampleNames(*family);
  for (const auto& [name, other] : families_) {
    for (const std::string& a : SampleNames(*other)) {
      for (const std::string& b : mine) {
        if (a == b) {
          internal::Die("metric '" + family->name() + "' clashes with '" + name +
                        "' (sample name '" + a + "')");
        }
      }
    }
  }
  FamilyBase& ref = *family;
  families_.emplace(family->name(), std::move(family));
  return ref;
}

CounterFamily& Registry::AddCounter(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  return static_cast<CounterFamily&>(Add(std::make_unique<CounterFamily>(
      std::move(name), std::move(help), MetricType::kCounter, std::move(label_names))));
}

GaugeFamily& Registry::AddGauge(std::string name, std::string help,
                                std::vector<std::string> label_names) {
  return static_cast<GaugeFamily&>(Add(std::make_unique<GaugeFamily>(
      std::move(name), std::move(help), MetricType::kGauge, std::move(label_names))));
}

HistogramFamily& Registry::AddHistogram(std::string name, std::string help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  return static_cast<HistogramFamily&>(Add(std::make_unique<HistogramFamily>(
      std::move(name), std::move(help), std::move(label_names), std::move(bounds))));
}

std::string Registry::Scrape() const {
  std::string out;
  ScrapeTo(&out);
  return out;
}

void Registry::ScrapeTo(std::string* out) const {
  MutexLock lock(mu_);
  std::string samples;
  for (const auto& [name, family] : families_) {
    samples.clear();
    if (family->WriteSamples(&samples) == 0) continue;
    out->append("# HELP ");
    out->append(name);
    out->push_back(' ');
    AppendEscapedHelp(out, family->help());
    out->append("\n# TYPE ");
    out->append(name);
    out->push_back(' ');
    out->append(TypeName(family->type()));
    out->push_back('\n');
    out->append(samples);
  }
}

}  // namespace ptserve::metrics
