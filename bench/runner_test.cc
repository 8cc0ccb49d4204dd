// End-to-end: the runner and the workload code against a real HTTP server on a loopback port.
#include "runner.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test_http_server.h"
#include "workload.h"

namespace ptserve::bench {
namespace {

Runner::Options OptionsFor(int port, const std::string& request) {
  Runner::Options o;
  o.endpoint = *ParseEndpoint(absl::StrCat("127.0.0.1:", port));
  o.request = request;
  o.warmup_ms = 50;
  o.requests = 300;
  o.timeout_ms = 5000;
  return o;
}

// Builds the KServe v2 request from the server's metadata, like ptserve-bench does.
std::string V2Request(int port, bool binary) {
  Endpoint ep = *ParseEndpoint(absl::StrCat("127.0.0.1:", port));
  auto md = FetchModelMetadata(ep, "m", "");
  EXPECT_TRUE(md.ok()) << md.status();
  WorkloadOptions w;
  w.model_name = "m";
  w.binary = binary;
  auto inputs = ResolveInputs(*md, w);
  EXPECT_TRUE(inputs.ok()) << inputs.status();
  auto spec = BuildRequest(*inputs, w);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return SerializeRequest("POST", spec->path, ep, spec->content_type, spec->headers, spec->body);
}

TEST(RunnerTest, ClosedLoopAnswersExactlyN) {
  TestHttpServer server({});
  Runner::Options o = OptionsFor(server.port(), V2Request(server.port(), false));
  o.threads = 2;
  auto runner = Runner::Create(o);
  ASSERT_TRUE(runner.ok());
  auto r = (*runner)->RunStep(StepConfig::Closed(4));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stats.ok, 300u);
  EXPECT_EQ(r->stats.errors.Total(), 0u);
  EXPECT_EQ(r->stats.latency.count(), 300u);
  EXPECT_GE(server.inference_requests(), 300);  // plus warm-up
  EXPECT_EQ(server.bad_requests(), 0);
  EXPECT_NE(server.last_body().find(R"("name":"INPUT__0","shape":[1,4],"datatype":"FP32")"),
            std::string::npos);
  // Server timing headers are averaged.
  EXPECT_EQ(r->stats.queue_count, 300u);
  EXPECT_DOUBLE_EQ(r->stats.queue_us_sum / r->stats.queue_count, 7);
  EXPECT_DOUBLE_EQ(r->stats.compute_us_sum / r->stats.compute_count, 11);
  EXPECT_DOUBLE_EQ(r->stats.batch_size_sum / r->stats.batch_count, 2);
  uint64_t series_total = 0;
  for (const Histogram& h : r->series.buckets()) series_total += h.count();
  EXPECT_EQ(series_total, 300u);
  EXPECT_GT(r->stats.Throughput(), 0);
  EXPECT_EQ(r->connections, 4);
}

TEST(RunnerTest, OpenLoopPoissonAnswersExactlyN) {
  TestHttpServer server({});
  Runner::Options o = OptionsFor(server.port(), V2Request(server.port(), true));
  o.distribution = ArrivalSchedule::Distribution::kPoisson;
  auto runner = *Runner::Create(o);
  auto r = runner->RunStep(StepConfig::Open(3000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stats.ok, 300u);
  EXPECT_EQ(r->stats.errors.Total(), 0u);
  // 300 requests at 3000/s take about 100 ms.
  EXPECT_GT(r->stats.duration_ns, 50'000'000);
  EXPECT_LT(r->stats.duration_ns, 1'000'000'000);
}

TEST(RunnerTest, ClassifiesHttpErrors) {
  TestHttpServer::Options so;
  so.status_503_every = 3;
  TestHttpServer server(so);
  auto runner = *Runner::Create(OptionsFor(server.port(), V2Request(server.port(), false)));
  auto r = runner->RunStep(StepConfig::Closed(2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stats.Completed(), 300u);
  // Every third request the server sees is a 503; warm-up requests share the server's
  // counter and two connections interleave at the edges of the measured window, so the
  // measured 300 hold 100 of them give or take two.
  const uint64_t unavailable = r->stats.errors.http_status.at(503);
  EXPECT_GE(unavailable, 98u);
  EXPECT_LE(unavailable, 102u);
  EXPECT_EQ(r->stats.ok + unavailable, 300u);
}

TEST(RunnerTest, ClassifiesClosedConnections) {
  TestHttpServer::Options so;
  so.close_every = 5;
  TestHttpServer server(so);
  Endpoint ep = *ParseEndpoint(absl::StrCat("127.0.0.1:", server.port()));
  auto runner = *Runner::Create(
      OptionsFor(server.port(), SerializeRequest("POST", "/predict", ep, "application/json", {},
                                                 R"({"data":[0.1,0.2]})")));
  auto r = runner->RunStep(StepConfig::Closed(3));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stats.Completed(), 300u);
  EXPECT_GT(r->stats.errors.closed, 30u);
  EXPECT_EQ(r->stats.errors.closed + r->stats.ok, 300u);
}

TEST(RunnerTest, ClassifiesConnectErrors) {
  // A port with nothing listening: bind to port 0 and close to get a free one.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  close(fd);
  Endpoint ep = *ParseEndpoint(absl::StrCat("127.0.0.1:", port));
  Runner::Options o = OptionsFor(port, SerializeRequest("GET", "/", ep, "", {}, ""));
  o.requests = 20;
  o.warmup_ms = 0;
  auto runner = *Runner::Create(o);
  auto r = runner->RunStep(StepConfig::Closed(2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stats.errors.connect, 20u);
  EXPECT_EQ(r->stats.ok, 0u);
}

TEST(RunnerTest, TimedWindowsAndSweep) {
  TestHttpServer server({});
  Runner::Options o = OptionsFor(server.port(), V2Request(server.port(), false));
  o.requests = 0;
  o.measurement_interval_ms = 100;
  o.max_trials = 3;
  o.stability_percentage = 1000;  // accept the first three windows
  auto runner = *Runner::Create(o);
  for (int c : {1, 2}) {
    auto r = runner->RunStep(StepConfig::Closed(c));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->windows, 3);
    EXPECT_TRUE(r->stable);
    EXPECT_EQ(r->stats.duration_ns, 300'000'000);
    EXPECT_GT(r->stats.ok, 10u);
    EXPECT_EQ(r->stats.errors.Total(), 0u);
  }
}

TEST(RunnerTest, RejectsBadSteps) {
  Runner::Options o = OptionsFor(1, "GET / HTTP/1.1\r\n\r\n");
  auto runner = *Runner::Create(o);
  EXPECT_FALSE(runner->RunStep(StepConfig::Closed(0)).ok());
  EXPECT_FALSE(runner->RunStep(StepConfig::Open(0)).ok());
  o.threads = 0;
  EXPECT_FALSE(Runner::Create(o).ok());
}

}  // namespace
}  // namespace ptserve::bench
