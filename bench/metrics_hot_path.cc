// The metrics hot path's cost, single-threaded: one RecordRequest (a counter
// and three histograms) plus one RecordExecution per request, with metrics on
// and off. At 20k requests/s, 1% of one core is 500 ns per request; the usual
// figure is ~60 ns on, a few ns off. A benchmark (it prints numbers), not a
// test: speed is never asserted by the unit tests.
//
//   build/bench/ptserve-metrics-bench [requests=1000000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "metrics/inference_metrics.h"

namespace ptserve::metrics {
namespace {

double NanosPerRequest(InferenceMetrics& metrics, int n) {
  std::shared_ptr<ModelMetrics> m = metrics.ForModel("mlp", "1");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    m->RecordRequest(Outcome::kSuccess, 100 + (i & 4095), i & 255, 80 + (i & 1023));
    m->RecordExecution(1 + (i & 63));
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
             .count() / n;
}

int Run(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  if (n <= 0) {
    std::fprintf(stderr, "usage: ptserve-metrics-bench [requests > 0]\n");
    return 2;
  }
  InferenceMetrics::Options on;
  on.process_metrics = false;
  on.gpu_metrics = false;
  InferenceMetrics enabled(on);
  InferenceMetrics::Options off = on;
  off.enabled = false;
  InferenceMetrics disabled(off);
  NanosPerRequest(enabled, n / 10 + 1);  // warm the caches and the series
  std::printf("{\"requests\": %d, \"enabled_ns_per_request\": %.1f, "
              "\"disabled_ns_per_request\": %.1f}\n",
              n, NanosPerRequest(enabled, n), NanosPerRequest(disabled, n));
  return 0;
}

}  // namespace
}  // namespace ptserve::metrics

int main(int argc, char** argv) { return ptserve::metrics::Run(argc, argv); }
