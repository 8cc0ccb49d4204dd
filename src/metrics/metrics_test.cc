#include "metrics/metrics.h"

#include <cmath>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "metrics/registry.h"

namespace ptserve::metrics {
namespace {

TEST(CounterTest, IncrementsAndAdds) {
  Counter c;
  EXPECT_EQ(c.Value(), 0);
  c.Increment();
  c.Increment(4);
  c.Add(0.5);
  c.Add(-10);           // ignored
  c.Add(std::nan(""));  // ignored
  EXPECT_DOUBLE_EQ(c.Value(), 5.5);
}

TEST(GaugeTest, SetAddSub) {
  Gauge g;
  g.Set(3);
  g.Add(2);
  g.Sub(0.5);
  EXPECT_DOUBLE_EQ(g.Value(), 4.5);
  g.Set(-1);
  EXPECT_EQ(g.Value(), -1);
}

std::shared_ptr<const std::vector<double>> Bounds(std::vector<double> b) {
  return std::make_shared<const std::vector<double>>(std::move(b));
}

TEST(HistogramTest, UpperBoundsAreInclusive) {
  Histogram h(Bounds({1, 2, 5}));
  // le="1": 0.5, 1 | le="2": 1.5, 2 | le="5": 2.0001 | +Inf: 5.5, 100
  for (double v : {0.5, 1.0, 1.5, 2.0, 2.0001, 5.5, 100.0, -3.0}) h.Observe(v);
  h.Observe(std::nan(""));  // ignored
  Histogram::Snapshot s = h.Read();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 3u);  // -3, 0.5, 1
  EXPECT_EQ(s.cumulative[1], 5u);
  EXPECT_EQ(s.cumulative[2], 6u);
  EXPECT_EQ(s.cumulative[3], 8u);
  EXPECT_EQ(s.count, 8u);
  EXPECT_DOUBLE_EQ(s.sum, 0.5 + 1 + 1.5 + 2 + 2.0001 + 5.5 + 100 - 3);
}

TEST(HistogramTest, ObserveMicrosIsSeconds) {
  Histogram h(Bounds(DurationBuckets()));
  h.ObserveMicros(100);      // exactly the 100 µs bound
  h.ObserveMicros(101);      // next bucket (250 µs)
  h.ObserveMicros(40'000'000);  // +Inf
  Histogram::Snapshot s = h.Read();
  const std::vector<double>& b = h.bounds();
  const size_t i100 = std::find(b.begin(), b.end(), 100e-6) - b.begin();
  EXPECT_EQ(s.cumulative[i100 - 1], 0u);
  EXPECT_EQ(s.cumulative[i100], 1u);
  EXPECT_EQ(s.cumulative[i100 + 1], 2u);
  EXPECT_EQ(s.cumulative[b.size() - 1], 2u);
  EXPECT_EQ(s.cumulative[b.size()], 3u);
  EXPECT_NEAR(s.sum, 40.000201, 1e-9);
}

TEST(HistogramTest, DefaultBuckets) {
  const std::vector<double> d = DurationBuckets();
  EXPECT_EQ(d.size(), 18u);
  EXPECT_EQ(d.front(), 50e-6);
  EXPECT_EQ(d.back(), 30);
  EXPECT_TRUE(std::is_sorted(d.begin(), d.end()));
  for (size_t i = 1; i < d.size(); ++i) EXPECT_LE(d[i] / d[i - 1], 3.0) << i;
  EXPECT_EQ(BatchSizeBuckets(), (std::vector<double>{1, 2, 4, 8, 16, 32, 64, 128, 256}));
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
}

TEST(ConcurrencyTest, EightThreadsCountExactly) {
  Registry registry;
  CounterFamily& counters = registry.AddCounter("c_total", "c", {"k"});
  HistogramFamily& hist = registry.AddHistogram("h_seconds", "h", {"k"}, {1, 10, 100});
  GaugeFamily& gauges = registry.AddGauge("g", "g", {"k"});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Label lookups race with recording on purpose.
      std::shared_ptr<Counter> c = counters.WithLabels({"shared"});
      std::shared_ptr<Histogram> h = hist.WithLabels({"shared"});
      std::shared_ptr<Gauge> g = gauges.WithLabels({"shared"});
      for (int i = 0; i < kPerThread; ++i) {
        c->Increment();
        h->Observe(static_cast<double>(i % 200));  // 0..199: 2,9,90,99 per 200
        g->Add(1);
        if (i % 50'000 == 0) (void)registry.Scrape();  // scrapes race with recording
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counters.WithLabels({"shared"})->Value(), double{kThreads} * kPerThread);
  EXPECT_EQ(gauges.WithLabels({"shared"})->Value(), double{kThreads} * kPerThread);
  Histogram::Snapshot s = hist.WithLabels({"shared"})->Read();
  const uint64_t n = uint64_t{kThreads} * kPerThread;
  EXPECT_EQ(s.count, n);
  EXPECT_EQ(s.cumulative[0], n / 200 * 2);    // 0, 1
  EXPECT_EQ(s.cumulative[1], n / 200 * 11);   // 0..10
  EXPECT_EQ(s.cumulative[2], n / 200 * 101);  // 0..100
  EXPECT_EQ(s.sum, static_cast<double>(n / 200) * (199 * 200 / 2));
}

TEST(FamilyTest, WithLabelsIsGetOrCreateAndRemoveStopsExport) {
  Registry registry;
  CounterFamily& f = registry.AddCounter("x_total", "x", {"a"});
  std::shared_ptr<Counter> one = f.WithLabels({"1"});
  EXPECT_EQ(one, f.WithLabels({"1"}));
  one->Increment();
  EXPECT_NE(registry.Scrape().find("x_total{a=\"1\"} 1"), std::string::npos);
  Counter other;
  EXPECT_FALSE(f.Remove({"1"}, &other));  // not that child
  EXPECT_TRUE(f.Remove({"1"}, one.get()));
  EXPECT_FALSE(f.Remove({"1"}));
  one->Increment();  // still safe to use
  EXPECT_EQ(registry.Scrape(), "");
  EXPECT_EQ(f.WithLabels({"1"})->Value(), 0);  // a new child
}

TEST(FamilyTest, CallbackSeriesAndRegistration) {
  Registry registry;
  GaugeFamily& f = registry.AddGauge("depth", "d", {"q"});
  double value = 7;
  Registration r = f.AddCallback({"a"}, [&] { return value; });
  EXPECT_TRUE(r.active());
  f.WithLabels({"b"})->Set(1);
  EXPECT_EQ(registry.Scrape(),
            "# HELP depth d\n# TYPE depth gauge\ndepth{q=\"a\"} 7\ndepth{q=\"b\"} 1\n");
  value = 8;
  EXPECT_NE(registry.Scrape().find("depth{q=\"a\"} 8"), std::string::npos);
  Registration moved = std::move(r);
  EXPECT_FALSE(r.active());
  moved.Release();
  moved.Release();  // idempotent
  EXPECT_EQ(registry.Scrape(), "# HELP depth d\n# TYPE depth gauge\ndepth{q=\"b\"} 1\n");
}

TEST(FamilyTest, CallbackReplacesSameLabelsAndOldRegistrationIsHarmless) {
  Registry registry;
  GaugeFamily& f = registry.AddGauge("g", "g");
  Registration first = f.AddCallback({}, [] { return 1.0; });
  Registration second = f.AddCallback({}, [] { return 2.0; });
  EXPECT_EQ(registry.Scrape(), "# HELP g g\n# TYPE g gauge\ng 2\n");
  first.Release();  // does not remove the second
  EXPECT_EQ(registry.Scrape(), "# HELP g g\n# TYPE g gauge\ng 2\n");
  second.Release();
  EXPECT_EQ(registry.Scrape(), "");
}

TEST(FamilyDeathTest, ProgrammingErrorsAbortWithAMessage) {
  Registry registry;
  CounterFamily& f = registry.AddCounter("x_total", "x", {"a", "b"});
  EXPECT_DEATH(f.WithLabels({"1"}), "has 2 labels but was given 1");
  EXPECT_DEATH(registry.AddCounter("bad-name", "x"), "invalid metric name");
  EXPECT_DEATH(registry.AddCounter("y_total", "x", {"__a"}), "invalid label name");
  EXPECT_DEATH(registry.AddHistogram("h", "x", {"le"}, {1}), "label named 'le'");
  EXPECT_DEATH(registry.AddHistogram("h", "x", {}, {2, 1}), "strictly increasing");
  EXPECT_DEATH(registry.AddGauge("x_total", "x"), "clashes");
  registry.AddHistogram("lat", "x", {}, {1});
  EXPECT_DEATH(registry.AddCounter("lat_count", "x"), "clashes");
}

}  // namespace
}  // namespace ptserve::metrics
