#include "metrics/registry.h"

#include "gtest/gtest.h"
#include "metrics/promtool_for_test.h"

namespace ptserve::metrics {
namespace {

// A small registry of every kind, with label values that need escaping.
void Fill(Registry& registry, std::vector<Registration>* keep) {
  CounterFamily& requests = registry.AddCounter(
      "app_requests_total", "Requests answered.\nBy outcome; a \\ is escaped.",
      {"model", "outcome"});
  requests.WithLabels({"mlp", "success"})->Increment(3);
  requests.WithLabels({"mlp", "client_error"})->Increment();
  requests.WithLabels({"we\"ird\\na\nme", "success"})->Add(0.5);
  registry.AddGauge("app_up", "Whether the app is up.")
      .WithLabels({})->Set(1);
  keep->push_back(registry.AddGauge("app_queue_depth", "Requests waiting.", {"model"})
                      .AddCallback({"mlp"}, [] { return 2.0; }));
  HistogramFamily& latency = registry.AddHistogram(
      "app_request_duration_seconds", "Latency.", {"model"}, {0.25, 0.5, 1});
  std::shared_ptr<Histogram> h = latency.WithLabels({"mlp"});
  for (double v : {0.125, 0.25, 0.75, 3.0}) h->Observe(v);
  registry.AddCounter("app_unused_total", "Never used: left out of the scrape.", {"x"});
}

TEST(RegistryTest, GoldenText) {
  Registry registry;
  std::vector<Registration> keep;
  Fill(registry, &keep);
  EXPECT_EQ(registry.Scrape(),
            R"(# HELP app_queue_depth Requests waiting.
# TYPE app_queue_depth gauge
app_queue_depth{model="mlp"} 2
# HELP app_request_duration_seconds Latency.
# TYPE app_request_duration_seconds histogram
app_request_duration_seconds_bucket{model="mlp",le="0.25"} 2
app_request_duration_seconds_bucket{model="mlp",le="0.5"} 2
app_request_duration_seconds_bucket{model="mlp",le="1"} 3
app_request_duration_seconds_bucket{model="mlp",le="+Inf"} 4
app_request_duration_seconds_sum{model="mlp"} 4.125
app_request_duration_seconds_count{model="mlp"} 4
# HELP app_requests_total Requests answered.\nBy outcome; a \\ is escaped.
# TYPE app_requests_total counter
app_requests_total{model="mlp",outcome="client_error"} 1
app_requests_total{model="mlp",outcome="success"} 3
app_requests_total{model="we\"ird\\na\nme",outcome="success"} 0.5
# HELP app_up Whether the app is up.
# TYPE app_up gauge
app_up 1
)");
}

TEST(RegistryTest, EmptyRegistryScrapesEmpty) {
  Registry registry;
  EXPECT_EQ(registry.Scrape(), "");
  registry.AddGauge("g", "g", {"a"});
  EXPECT_EQ(registry.Scrape(), "");
}

TEST(RegistryTest, PromtoolAcceptsTheScrape) {
  std::optional<std::string> promtool = testing::FindPromtool();
  if (!promtool) GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  Registry registry;
  std::vector<Registration> keep;
  Fill(registry, &keep);
  const std::string text = registry.Scrape();
  testing::PromtoolResult r = testing::CheckMetrics(*promtool, text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- scrape:\n" << text;
  EXPECT_EQ(r.output, "");
}

TEST(RegistryTest, PromtoolRejectsBrokenText) {
  // Guards the guard: the helper does report failures.
  std::optional<std::string> promtool = testing::FindPromtool();
  if (!promtool) GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  EXPECT_NE(testing::CheckMetrics(*promtool, "x{a=\"b} 1\n").exit_code, 0);
}

}  // namespace
}  // namespace ptserve::metrics
