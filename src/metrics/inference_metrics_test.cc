#include "metrics/inference_metrics.h"

#include <atomic>
#include <chrono>
#include <regex>
#include <thread>

#include "gtest/gtest.h"
#include "metrics/promtool_for_test.h"

namespace ptserve::metrics {
namespace {

InferenceMetrics::Options Quiet() {
  InferenceMetrics::Options o;
  o.process_metrics = false;
  o.gpu_metrics = false;
  return o;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

// The value of the one sample whose line starts with `prefix` + " ".
double Sample(const std::string& text, const std::string& prefix) {
  const size_t at = text.find(prefix + " ");
  if (at == std::string::npos || (at > 0 && text[at - 1] != '\n')) return -1;
  return std::stod(text.substr(at + prefix.size() + 1));
}

TEST(OutcomeTest, NamesAndStatusMapping) {
  EXPECT_STREQ(OutcomeName(Outcome::kSuccess), "success");
  EXPECT_STREQ(OutcomeName(Outcome::kClientError), "client_error");
  EXPECT_STREQ(OutcomeName(Outcome::kServerError), "server_error");
  EXPECT_STREQ(OutcomeName(Outcome::kRejected), "rejected");
  EXPECT_STREQ(OutcomeName(Outcome::kTimedOut), "timed_out");
  EXPECT_STREQ(OutcomeName(Outcome::kCancelled), "cancelled");
  EXPECT_EQ(OutcomeFor(absl::OkStatus()), Outcome::kSuccess);
  EXPECT_EQ(OutcomeFor(absl::InvalidArgumentError("")), Outcome::kClientError);
  EXPECT_EQ(OutcomeFor(absl::NotFoundError("")), Outcome::kClientError);
  EXPECT_EQ(OutcomeFor(absl::UnavailableError("")), Outcome::kRejected);
  EXPECT_EQ(OutcomeFor(absl::ResourceExhaustedError("")), Outcome::kRejected);
  EXPECT_EQ(OutcomeFor(absl::DeadlineExceededError("")), Outcome::kTimedOut);
  EXPECT_EQ(OutcomeFor(absl::CancelledError("")), Outcome::kCancelled);
  EXPECT_EQ(OutcomeFor(absl::InternalError("")), Outcome::kServerError);
  EXPECT_EQ(OutcomeFor(absl::UnknownError("")), Outcome::kServerError);
  EXPECT_STREQ(ModelStateName(ModelState::kReady), "READY");
}

TEST(InferenceMetricsTest, ForModelCreatesEverySeriesAtZero) {
  InferenceMetrics metrics(Quiet());
  std::shared_ptr<ModelMetrics> m = metrics.ForModel("mlp", "1");
  EXPECT_EQ(m, metrics.ForModel("mlp", "1"));
  EXPECT_NE(m, metrics.ForModel("mlp", "1", "b"));
  const std::string text = metrics.Scrape();
  for (const char* outcome :
       {"success", "client_error", "server_error", "rejected", "timed_out", "cancelled"}) {
    EXPECT_TRUE(Has(text, std::string("ptserve_inference_requests_total{model=\"mlp\",version=\"1\","
                                      "variant=\"\",outcome=\"") + outcome + "\"} 0"))
        << outcome;
  }
  EXPECT_TRUE(Has(text, "ptserve_inference_executions_total{model=\"mlp\",version=\"1\"} 0"));
  EXPECT_TRUE(Has(text, "ptserve_inference_rows_total{model=\"mlp\",version=\"1\"} 0"));
  EXPECT_TRUE(Has(text, "ptserve_inference_request_duration_seconds_count{model=\"mlp\","
                        "version=\"1\",variant=\"\"} 0"));
  EXPECT_TRUE(Has(text, "ptserve_inference_batch_size_bucket{model=\"mlp\",version=\"1\","
                        "le=\"+Inf\"} 0"));
}

TEST(InferenceMetricsTest, RecordsRequestsAndExecutions) {
  InferenceMetrics metrics(Quiet());
  std::shared_ptr<ModelMetrics> m = metrics.ForModel("mlp", "1");
  m->RecordRequest(Outcome::kSuccess, 1200, 300, 800);  // 1.2 ms, 0.3 ms, 0.8 ms
  m->RecordRequest(Outcome::kSuccess, 20'000, InferenceTiming{5'000, 14'000, 8});
  m->RecordRequest(Outcome::kClientError, 50, 0, 0);
  m->RecordRequest(Outcome::kTimedOut, 100'000, 100'000, 0);
  m->RecordExecution(8);
  m->RecordExecution(3);
  const std::string text = metrics.Scrape();
  const std::string l = "{model=\"mlp\",version=\"1\",variant=\"\"";
  EXPECT_EQ(Sample(text, "ptserve_inference_requests_total" + l + ",outcome=\"success\"}"), 2);
  EXPECT_EQ(Sample(text, "ptserve_inference_requests_total" + l + ",outcome=\"client_error\"}"),
            1);
  EXPECT_EQ(Sample(text, "ptserve_inference_requests_total" + l + ",outcome=\"timed_out\"}"), 1);
  // Histograms: successes only.
  EXPECT_EQ(Sample(text, "ptserve_inference_request_duration_seconds_count" + l + "}"), 2);
  EXPECT_DOUBLE_EQ(Sample(text, "ptserve_inference_request_duration_seconds_sum" + l + "}"),
                   0.0212);
  EXPECT_EQ(Sample(text, "ptserve_inference_request_duration_seconds_bucket" + l +
                             ",le=\"0.001\"}"), 0);
  EXPECT_EQ(Sample(text, "ptserve_inference_request_duration_seconds_bucket" + l +
                             ",le=\"0.0025\"}"), 1);
  EXPECT_EQ(Sample(text, "ptserve_inference_request_duration_seconds_bucket" + l +
                             ",le=\"0.025\"}"), 2);
  EXPECT_DOUBLE_EQ(Sample(text, "ptserve_inference_queue_duration_seconds_sum" + l + "}"), 0.0053);
  EXPECT_DOUBLE_EQ(Sample(text, "ptserve_inference_compute_duration_seconds_sum" + l + "}"),
                   0.0148);
  const std::string v = "{model=\"mlp\",version=\"1\"";
  EXPECT_EQ(Sample(text, "ptserve_inference_executions_total" + v + "}"), 2);
  EXPECT_EQ(Sample(text, "ptserve_inference_rows_total" + v + "}"), 11);
  EXPECT_EQ(Sample(text, "ptserve_inference_batch_size_bucket" + v + ",le=\"2\"}"), 0);
  EXPECT_EQ(Sample(text, "ptserve_inference_batch_size_bucket" + v + ",le=\"4\"}"), 1);
  EXPECT_EQ(Sample(text, "ptserve_inference_batch_size_bucket" + v + ",le=\"8\"}"), 2);
  EXPECT_EQ(Sample(text, "ptserve_inference_batch_size_sum" + v + "}"), 11);
}

TEST(InferenceMetricsTest, SeriesLiveAsLongAsAHolder) {
  InferenceMetrics metrics(Quiet());
  std::shared_ptr<ModelMetrics> a = metrics.ForModel("mlp", "1", "a");
  std::shared_ptr<ModelMetrics> b = metrics.ForModel("mlp", "1", "b");
  a->RecordExecution(4);
  b->RecordExecution(4);  // variants of one version share the execution series
  EXPECT_EQ(Sample(metrics.Scrape(), "ptserve_inference_executions_total{model=\"mlp\","
                                     "version=\"1\"}"), 2);
  a.reset();
  std::string text = metrics.Scrape();
  EXPECT_EQ(text.find("variant=\"a\""), std::string::npos);
  EXPECT_NE(text.find("variant=\"b\""), std::string::npos);
  EXPECT_EQ(Sample(text, "ptserve_inference_executions_total{model=\"mlp\",version=\"1\"}"), 2);
  b.reset();
  EXPECT_EQ(metrics.Scrape(), "");
  // A new holder starts from zero.
  std::shared_ptr<ModelMetrics> again = metrics.ForModel("mlp", "1", "a");
  EXPECT_EQ(Sample(metrics.Scrape(), "ptserve_inference_executions_total{model=\"mlp\","
                                     "version=\"1\"}"), 0);
}

TEST(InferenceMetricsTest, ModelMetricsMayOutliveInferenceMetrics) {
  std::shared_ptr<ModelMetrics> m;
  Registration r;
  {
    InferenceMetrics metrics(Quiet());
    m = metrics.ForModel("mlp", "1");
    r = metrics.RegisterQueue("mlp", "1", 10, [] { return 1.0; }, [] { return 0.0; });
  }
  m->RecordRequest(Outcome::kSuccess, 1, 1, 1);
  m->RecordExecution(1);
  r.Release();
  m.reset();
}

TEST(InferenceMetricsTest, QueueGaugesReadAtScrape) {
  InferenceMetrics metrics(Quiet());
  double depth = 3;
  Registration r = metrics.RegisterQueue("mlp", "1", 256, [&] { return depth; },
                                         [] { return 2.0; });
  std::string text = metrics.Scrape();
  EXPECT_TRUE(Has(text, "ptserve_inference_queue_depth{model=\"mlp\",version=\"1\"} 3"));
  EXPECT_TRUE(Has(text, "ptserve_inference_in_flight{model=\"mlp\",version=\"1\"} 2"));
  EXPECT_TRUE(Has(text, "ptserve_inference_queue_capacity{model=\"mlp\",version=\"1\"} 256"));
  depth = 5;
  EXPECT_TRUE(Has(metrics.Scrape(), "ptserve_inference_queue_depth{model=\"mlp\",version=\"1\"} 5"));
  r = Registration();  // released by the move-assignment
  EXPECT_EQ(metrics.Scrape(), "");
}

TEST(InferenceMetricsTest, ModelStateAndLoadDuration) {
  InferenceMetrics metrics(Quiet());
  metrics.SetModelState("mlp", "1", ModelState::kLoading);
  metrics.SetModelState("mlp", "1", ModelState::kReady);
  metrics.SetModelLoadDuration("mlp", "1", 1.5);
  std::string text = metrics.Scrape();
  EXPECT_TRUE(Has(text, "ptserve_model_state{model=\"mlp\",version=\"1\",state=\"READY\"} 1"));
  EXPECT_TRUE(Has(text, "ptserve_model_state{model=\"mlp\",version=\"1\",state=\"LOADING\"} 0"));
  EXPECT_TRUE(
      Has(text, "ptserve_model_state{model=\"mlp\",version=\"1\",state=\"UNAVAILABLE\"} 0"));
  EXPECT_TRUE(Has(text, "ptserve_model_state{model=\"mlp\",version=\"1\",state=\"UNLOADED\"} 0"));
  EXPECT_TRUE(Has(text, "ptserve_model_load_duration_seconds{model=\"mlp\",version=\"1\"} 1.5"));
  metrics.RemoveModelVersion("mlp", "1");
  EXPECT_EQ(metrics.Scrape(), "");
}

TEST(InferenceMetricsTest, HttpResponsesAndConnections) {
  InferenceMetrics metrics(Quiet());
  metrics.RecordHttpResponse(200);
  metrics.RecordHttpResponse(200);
  metrics.RecordHttpResponse(404);
  metrics.RecordHttpResponse(7);
  Registration r = metrics.RegisterHttpConnections([] { return 4.0; });
  const std::string text = metrics.Scrape();
  EXPECT_TRUE(Has(text, "ptserve_http_requests_total{code=\"200\"} 2"));
  EXPECT_TRUE(Has(text, "ptserve_http_requests_total{code=\"404\"} 1"));
  EXPECT_TRUE(Has(text, "ptserve_http_requests_total{code=\"other\"} 1"));
  EXPECT_TRUE(Has(text, "ptserve_http_open_connections 4"));
}

TEST(InferenceMetricsTest, DisabledIsANoOp) {
  InferenceMetrics::Options o;
  o.enabled = false;
  InferenceMetrics metrics(o);
  EXPECT_FALSE(metrics.enabled());
  std::shared_ptr<ModelMetrics> m = metrics.ForModel("mlp", "1");
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->enabled());
  m->RecordRequest(Outcome::kSuccess, 1, 1, 1);
  m->RecordExecution(4);
  Registration r = metrics.RegisterQueue("mlp", "1", 1, [] { return 1.0; }, [] { return 1.0; });
  EXPECT_FALSE(r.active());
  metrics.SetModelState("mlp", "1", ModelState::kReady);
  metrics.RecordHttpResponse(200);
  EXPECT_EQ(metrics.Scrape(), "");
  EXPECT_EQ(metrics.registry(), nullptr);
}

TEST(InferenceMetricsTest, ConcurrentRecordingIsExact) {
  InferenceMetrics metrics(Quiet());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50'000;
  // Held throughout: the series would restart at 0 if every holder let go.
  std::shared_ptr<ModelMetrics> keep = metrics.ForModel("mlp", "1");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::shared_ptr<ModelMetrics> m = metrics.ForModel("mlp", "1");  // races on purpose
      for (int i = 0; i < kPerThread; ++i) {
        m->RecordRequest(i % 10 == 0 ? Outcome::kClientError : Outcome::kSuccess, 1000, 100, 800);
        if (i % 4 == 0) m->RecordExecution(4);
        metrics.RecordHttpResponse(i % 10 == 0 ? 400 : 200);
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = metrics.Scrape();
  const std::string l = "{model=\"mlp\",version=\"1\",variant=\"\"";
  const double n = double{kThreads} * kPerThread;
  EXPECT_EQ(Sample(text, "ptserve_inference_requests_total" + l + ",outcome=\"success\"}"),
            n * 9 / 10);
  EXPECT_EQ(Sample(text, "ptserve_inference_requests_total" + l + ",outcome=\"client_error\"}"),
            n / 10);
  EXPECT_EQ(Sample(text, "ptserve_inference_request_duration_seconds_count" + l + "}"),
            n * 9 / 10);
  EXPECT_EQ(Sample(text, "ptserve_inference_rows_total{model=\"mlp\",version=\"1\"}"), n);
  EXPECT_EQ(Sample(text, "ptserve_http_requests_total{code=\"200\"}"), n * 9 / 10);
}

// Holders come and go (versions loading and unloading) while others record
// and scrape: nothing crashes or races (run under TSan), and once every holder
// is gone nothing is left.
TEST(InferenceMetricsTest, ChurnOfHoldersWithScrapes) {
  InferenceMetrics metrics(Quiet());
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop.load()) (void)metrics.Scrape();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::shared_ptr<ModelMetrics> m =
            metrics.ForModel("m", std::to_string(i % 3), t % 2 ? "a" : "");
        m->RecordRequest(Outcome::kSuccess, 10, 1, 5);
        m->RecordExecution(2);
        Registration q = metrics.RegisterQueue("m", std::to_string(i % 3), 8,
                                               [] { return 1.0; }, [] { return 0.0; });
      }
    });
  }
  for (auto& t : threads) t.join();
  stop.store(true);
  scraper.join();
  EXPECT_EQ(metrics.Scrape(), "");
}

TEST(InferenceMetricsTest, FullScrapePassesPromtool) {
  std::optional<std::string> promtool = testing::FindPromtool();
  if (!promtool) GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  InferenceMetrics metrics;  // process metrics on, GPU when present
  std::shared_ptr<ModelMetrics> m = metrics.ForModel("mlp", "1");
  std::shared_ptr<ModelMetrics> ab = metrics.ForModel("text", "2", "canary");
  m->RecordRequest(Outcome::kSuccess, 1500, 200, 1100);
  m->RecordRequest(Outcome::kRejected, 10, 0, 0);
  m->RecordExecution(5);
  ab->RecordRequest(Outcome::kSuccess, 9'000'000, 0, 8'000'000);
  Registration q = metrics.RegisterQueue("mlp", "1", 1024, [] { return 3.0; },
                                         [] { return 1.0; });
  Registration c = metrics.RegisterHttpConnections([] { return 2.0; });
  metrics.SetModelState("mlp", "1", ModelState::kReady);
  metrics.SetModelState("broken", "1", ModelState::kUnavailable);
  metrics.SetModelLoadDuration("mlp", "1", 0.75);
  metrics.RecordHttpResponse(200);
  metrics.RecordHttpResponse(503);
  const std::string text = metrics.Scrape();
  testing::PromtoolResult r = testing::CheckMetrics(*promtool, text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- scrape:\n" << text;
  EXPECT_EQ(r.output, "");
  EXPECT_NE(text.find("process_cpu_seconds_total "), std::string::npos);
}

}  // namespace
}  // namespace ptserve::metrics
