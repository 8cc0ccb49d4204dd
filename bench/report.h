// Writes step results as JSON, perf_analyzer-style CSV, a terminal summary and a self-contained
// HTML report (inline SVG only: no scripts, no external resources) with, per step, a latency heat
// map and percentile curves over time, and a sweep chart of throughput against p50/p99.
//
//   ReportInfo info{.url = "localhost:8000", .model = "mlp", ...};
//   std::string html = HtmlReport(info, results);
#ifndef PTSERVE_BENCH_REPORT_H_
#define PTSERVE_BENCH_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "histogram.h"
#include "runner.h"

namespace ptserve::bench {

struct ReportInfo {
  std::string url;
  std::string model;
  std::string endpoint;      // "predict" | "v2"
  bool binary = false;
  bool open_loop = false;    // steps are request rates, not concurrencies
  std::string distribution;  // open loop: "constant" | "poisson"
  double percentile = -1;    // --percentile, reported as an extra column when >= 0
  std::string command_line;
};

// Latency heat map cells of a TimeSeries: columns are its time buckets, rows are log-spaced
// latency ranges [row_edges_ns[r], row_edges_ns[r+1]) covering the recorded values.
struct HeatMap {
  int64_t column_width_ns = 0;
  std::vector<int64_t> row_edges_ns;          // rows + 1 ascending edges
  std::vector<std::vector<uint64_t>> counts;  // [column][row]
  uint64_t max_count = 0;
};
// `rows_per_doubling` rows per factor of two, reduced so that there are at most `max_rows`.
HeatMap BuildHeatMap(const TimeSeries& series, int rows_per_doubling = 4, int max_rows = 48);

std::string JsonReport(const ReportInfo& info, const std::vector<StepResult>& steps);
std::string CsvReport(const ReportInfo& info, const std::vector<StepResult>& steps);
std::string HtmlReport(const ReportInfo& info, const std::vector<StepResult>& steps);
// One human-readable line per step, with a header line first.
std::string TextSummary(const ReportInfo& info, const std::vector<StepResult>& steps);

}  // namespace ptserve::bench

#endif  // PTSERVE_BENCH_REPORT_H_
