#include "report.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ptserve::bench {
namespace {

constexpr double kPercentiles[] = {50, 90, 95, 99, 99.9};

double Us(double ns) { return ns / 1000.0; }

// Step-level numbers shared by every output format.
struct StepNumbers {
  double x = 0;  // concurrency or request rate
  double throughput = 0;
  double avg_us = 0, min_us = 0, max_us = 0;
  double p_us[5] = {};
  double custom_us = 0;
  double send_us = 0;
  double queue_us = -1, compute_us = -1, batch = -1;  // -1: not reported by the server
  uint64_t ok = 0, errors = 0;
};

StepNumbers Numbers(const StepResult& r, double percentile) {
  StepNumbers n;
  const StepStats& s = r.stats;
  n.x = r.config.mode == StepConfig::Mode::kClosed ? r.config.concurrency : r.config.rate;
  n.throughput = s.Throughput();
  n.avg_us = Us(s.latency.Mean());
  n.min_us = Us(static_cast<double>(s.latency.min()));
  n.max_us = Us(static_cast<double>(s.latency.max()));
  for (int i = 0; i < 5; ++i) n.p_us[i] = Us(s.latency.ValueAtPercentile(kPercentiles[i]));
  if (percentile >= 0) n.custom_us = Us(s.latency.ValueAtPercentile(percentile));
  if (s.send_delay_count > 0) n.send_us = Us(s.send_delay_sum_ns / s.send_delay_count);
  if (s.queue_count > 0) n.queue_us = s.queue_us_sum / s.queue_count;
  if (s.compute_count > 0) n.compute_us = s.compute_us_sum / s.compute_count;
  if (s.batch_count > 0) n.batch = s.batch_size_sum / s.batch_count;
  n.ok = s.ok;
  n.errors = s.errors.Total();
  return n;
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  return absl::StrFormat("%.3f", v);
}
std::string OptNum(double v) { return v < 0 ? "null" : Num(v); }

std::string Html(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string FormatUs(double us) {
  if (us < 1000) return absl::StrFormat("%.0f us", us);
  if (us < 1e6) return absl::StrFormat("%.3g ms", us / 1000);
  return absl::StrFormat("%.3g s", us / 1e6);
}

std::string StepLabel(const StepConfig& c) {
  return c.mode == StepConfig::Mode::kClosed ? absl::StrCat("concurrency ", c.concurrency)
                                             : absl::StrFormat("request rate %.6g/s", c.rate);
}

// Colour ramp (viridis-like) for t in [0, 1].
std::string Colour(double t) {
  static const double kStops[][3] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int i = std::min(static_cast<int>(t), 3);
  const double f = t - i;
  int rgb[3];
  for (int k = 0; k < 3; ++k) {
    rgb[k] = static_cast<int>(std::lround(kStops[i][k] + (kStops[i + 1][k] - kStops[i][k]) * f));
  }
  return absl::StrFormat("#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

// Plot-area geometry shared by the charts.
struct Frame {
  double width = 640, height = 300, left = 70, right = 20, top = 20, bottom = 40;
  double PlotW() const { return width - left - right; }
  double PlotH() const { return height - top - bottom; }
};

std::string SvgOpen(const Frame& f, absl::string_view title) {
  return absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\" role=\"img\"><title>%s</title>"
      "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>",
      f.width, f.height, f.width, f.height, Html(title), f.width, f.height);
}

std::string Text(double x, double y, absl::string_view s, absl::string_view anchor = "middle",
                 int size = 11) {
  return absl::StrFormat(
      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" text-anchor=\"%s\">%s</text>", x, y, size,
      anchor, Html(s));
}

// Maps latency (us) to y on a log axis between lo and hi.
struct LogAxis {
  double lo, hi;
  double Y(const Frame& f, double v) const {
    v = std::clamp(v, lo, hi);
    return f.top + f.PlotH() * (1 - std::log(v / lo) / std::log(hi / lo));
  }
};

std::string LogAxisTicks(const Frame& f, const LogAxis& a) {
  std::string out;
  for (double d = std::pow(10, std::floor(std::log10(a.lo))); d <= a.hi * 1.0001; d *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = d * m;
      if (v < a.lo * 0.9999 || v > a.hi * 1.0001) continue;
      const double y = a.Y(f, v);
      absl::StrAppend(&out, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                                            "stroke=\"#dddddd\"/>",
                                            f.left, y, f.left + f.PlotW(), y),
                      Text(f.left - 4, y + 4, FormatUs(v), "end", 10));
    }
  }
  return out;
}

std::string TimeAxis(const Frame& f, double seconds) {
  std::string out;
  const double step = seconds <= 10 ? 1 : seconds <= 60 ? 5 : seconds <= 300 ? 30 : 60;
  for (double t = 0; t <= seconds + 1e-9; t += step) {
    const double x = f.left + f.PlotW() * t / std::max(seconds, 1e-9);
    absl::StrAppend(&out, Text(x, f.top + f.PlotH() + 14, absl::StrFormat("%.0fs", t), "middle", 10));
  }
  absl::StrAppend(&out, Text(f.left + f.PlotW() / 2, f.height - 6, "time since measurement start"));
  return out;
}

std::string HeatMapSvg(const HeatMap& hm, absl::string_view title) {
  Frame f;
  std::string out = SvgOpen(f, title);
  const int cols = static_cast<int>(hm.counts.size());
  const int rows = hm.row_edges_ns.empty() ? 0 : static_cast<int>(hm.row_edges_ns.size()) - 1;
  absl::StrAppendFormat(&out,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"#f4f4f4\"/>",
                        f.left, f.top, f.PlotW(), f.PlotH());
  if (cols == 0 || rows == 0) return out + Text(f.width / 2, f.height / 2, "no data") + "</svg>";
  const double cw = f.PlotW() / cols, rh = f.PlotH() / rows;
  const double log_max = std::log1p(static_cast<double>(hm.max_count));
  for (int c = 0; c < cols; ++c) {
    for (int r = 0; r < rows; ++r) {
      const uint64_t n = hm.counts[c][r];
      if (n == 0) continue;
      const double t = log_max > 0 ? std::log1p(static_cast<double>(n)) / log_max : 1;
      absl::StrAppendFormat(
          &out,
          "<rect class=\"cell\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
          "<title>%.1fs, %s-%s: %d</title></rect>",
          f.left + c * cw, f.top + (rows - 1 - r) * rh, cw + 0.05, rh + 0.05, Colour(t),
          c * hm.column_width_ns * 1e-9, FormatUs(Us(hm.row_edges_ns[r])),
          FormatUs(Us(hm.row_edges_ns[r + 1])), n);
    }
  }
  for (int r = 0; r <= rows; r += std::max(1, rows / 8)) {
    absl::StrAppend(&out, Text(f.left - 4, f.top + (rows - r) * rh + 4,
                               FormatUs(Us(hm.row_edges_ns[r])), "end", 10));
  }
  absl::StrAppend(&out, TimeAxis(f, cols * hm.column_width_ns * 1e-9));
  // Legend: count scale.
  for (int i = 0; i < 5; ++i) {
    absl::StrAppendFormat(&out,
                          "<rect x=\"%.1f\" y=\"4\" width=\"20\" height=\"10\" fill=\"%s\"/>",
                          f.width - 150 + i * 20, Colour(i / 4.0));
  }
  absl::StrAppend(&out, Text(f.width - 150, 12, "1", "end", 10),
                  Text(f.width - 46, 12, absl::StrCat(hm.max_count, " req"), "start", 10),
                  "</svg>");
  return out;
}

std::string PercentileCurvesSvg(const TimeSeries& series, absl::string_view title) {
  Frame f;
  std::string out = SvgOpen(f, title);
  const auto& buckets = series.buckets();
  double lo = std::numeric_limits<double>::max(), hi = 0;
  for (const Histogram& h : buckets) {
    if (h.count() == 0) continue;
    lo = std::min(lo, Us(h.ValueAtPercentile(50)));
    hi = std::max(hi, Us(static_cast<double>(h.max())));
  }
  if (hi <= 0) return out + Text(f.width / 2, f.height / 2, "no data") + "</svg>";
  LogAxis axis{std::max(lo * 0.8, 0.5), std::max(hi * 1.25, lo * 2)};
  absl::StrAppend(&out, LogAxisTicks(f, axis));
  const double seconds = buckets.size() * series.width_ns() * 1e-9;
  absl::StrAppend(&out, TimeAxis(f, seconds));
  struct Curve {
    double p;
    const char* name;
    const char* colour;
  };
  const Curve curves[] = {{50, "p50", "#1f77b4"}, {90, "p90", "#2ca02c"},
                          {99, "p99", "#ff7f0e"}, {99.9, "p99.9", "#d62728"},
                          {100, "max", "#7f7f7f"}};
  int legend = 0;
  for (const Curve& c : curves) {
    std::string points;
    for (size_t i = 0; i < buckets.size(); ++i) {
      if (buckets[i].count() == 0) continue;
      const double x = f.left + f.PlotW() * (i + 0.5) / buckets.size();
      absl::StrAppendFormat(&points, "%.1f,%.1f ", x,
                            axis.Y(f, Us(buckets[i].ValueAtPercentile(c.p))));
    }
    absl::StrAppendFormat(&out,
                          "<polyline class=\"curve\" fill=\"none\" stroke=\"%s\" "
                          "stroke-width=\"1.5\" points=\"%s\"/>",
                          c.colour, points);
    absl::StrAppendFormat(&out,
                          "<rect x=\"%.1f\" y=\"6\" width=\"10\" height=\"3\" fill=\"%s\"/>",
                          f.left + 10 + legend * 60, c.colour);
    absl::StrAppend(&out, Text(f.left + 24 + legend * 60, 11, c.name, "start", 10));
    ++legend;
  }
  return out + "</svg>";
}

std::string SweepSvg(const ReportInfo& info, const std::vector<StepNumbers>& steps) {
  Frame f;
  f.width = 720;
  f.height = 340;
  std::string out = SvgOpen(f, "throughput vs latency over the steps");
  double max_tput = 0, lo = std::numeric_limits<double>::max(), hi = 0;
  for (const StepNumbers& n : steps) {
    max_tput = std::max(max_tput, n.throughput);
    if (n.ok == 0) continue;
    lo = std::min(lo, n.p_us[0]);
    hi = std::max(hi, n.p_us[3]);
  }
  if (hi <= 0) return out + Text(f.width / 2, f.height / 2, "no data") + "</svg>";
  LogAxis axis{std::max(lo * 0.8, 0.5), std::max(hi * 1.25, lo * 2)};
  absl::StrAppend(&out, LogAxisTicks(f, axis));
  const double xmax = std::max(max_tput * 1.08, 1.0);
  for (int i = 0; i <= 5; ++i) {
    const double v = xmax * i / 5;
    absl::StrAppend(&out, Text(f.left + f.PlotW() * i / 5, f.top + f.PlotH() + 14,
                               absl::StrFormat("%.0f", v), "middle", 10));
  }
  absl::StrAppend(&out, Text(f.left + f.PlotW() / 2, f.height - 6, "throughput (requests/s)"));
  auto x_of = [&](double t) { return f.left + f.PlotW() * t / xmax; };
  const struct {
    int index;
    const char* name;
    const char* colour;
  } lines[] = {{0, "p50", "#1f77b4"}, {3, "p99", "#d62728"}};
  int legend = 0;
  for (const auto& line : lines) {
    std::string points, dots;
    for (const StepNumbers& n : steps) {
      if (n.ok == 0) continue;
      const double x = x_of(n.throughput), y = axis.Y(f, n.p_us[line.index]);
      absl::StrAppendFormat(&points, "%.1f,%.1f ", x, y);
      absl::StrAppendFormat(&dots,
                            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s %.6g: "
                            "%.0f req/s, %s %s</title></circle>",
                            x, y, line.colour, info.open_loop ? "rate" : "concurrency", n.x,
                            n.throughput, line.name, FormatUs(n.p_us[line.index]));
      if (line.index == 3) absl::StrAppend(&dots, Text(x, y - 7, absl::StrFormat("%.6g", n.x), "middle", 9));
    }
    absl::StrAppendFormat(&out,
                          "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                          "points=\"%s\"/>%s",
                          line.colour, points, dots);
    absl::StrAppendFormat(&out, "<rect x=\"%.1f\" y=\"6\" width=\"10\" height=\"3\" fill=\"%s\"/>",
                          f.left + 10 + legend * 60, line.colour);
    absl::StrAppend(&out, Text(f.left + 24 + legend * 60, 11, line.name, "start", 10));
    ++legend;
  }
  return out + "</svg>";
}

}  // namespace

HeatMap BuildHeatMap(const TimeSeries& series, int rows_per_doubling, int max_rows) {
  HeatMap hm;
  hm.column_width_ns = series.width_ns();
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
  for (const Histogram& h : series.buckets()) {
    if (h.count() == 0) continue;
    lo = std::min(lo, h.min());
    hi = std::max(hi, h.max());
  }
  hm.counts.assign(series.buckets().size(), {});
  if (hi == 0) return hm;
  lo = std::max<int64_t>(lo, 1);
  // Rows are log-spaced from a power of two at or below the minimum to past the maximum.
  const double lo_log = std::floor(std::log2(static_cast<double>(lo)));
  const double hi_log = std::log2(static_cast<double>(hi) + 1);
  rows_per_doubling = std::max(rows_per_doubling, 1);
  int rows = static_cast<int>(std::ceil((hi_log - lo_log) * rows_per_doubling));
  while (rows > max_rows && rows_per_doubling > 1) {
    --rows_per_doubling;
    rows = static_cast<int>(std::ceil((hi_log - lo_log) * rows_per_doubling));
  }
  rows = std::max(rows, 1);
  const double step = (hi_log - lo_log) / rows;
  for (int r = 0; r <= rows; ++r) {
    hm.row_edges_ns.push_back(static_cast<int64_t>(std::llround(std::exp2(lo_log + r * step))));
  }
  hm.row_edges_ns.back() = hi + 1;  // the last row includes the maximum
  // CountInRange works on bucket midpoints; widen the outer edges so every count lands in a row.
  hm.row_edges_ns.front() = 0;
  for (size_t c = 0; c < series.buckets().size(); ++c) {
    const Histogram& h = series.buckets()[c];
    hm.counts[c].assign(rows, 0);
    if (h.count() == 0) continue;
    for (int r = 0; r < rows; ++r) {
      const int64_t top = r == rows - 1 ? std::numeric_limits<int64_t>::max() : hm.row_edges_ns[r + 1];
      hm.counts[c][r] = h.CountInRange(hm.row_edges_ns[r], top);
      hm.max_count = std::max(hm.max_count, hm.counts[c][r]);
    }
  }
  hm.row_edges_ns.front() = static_cast<int64_t>(std::llround(std::exp2(lo_log)));
  return hm;
}

std::string JsonReport(const ReportInfo& info, const std::vector<StepResult>& steps) {
  std::string out = absl::StrCat(
      "{\n  \"tool\": \"ptserve-bench\",\n  \"url\": ", JsonString(info.url),
      ",\n  \"model\": ", JsonString(info.model), ",\n  \"endpoint\": ", JsonString(info.endpoint),
      ",\n  \"binary\": ", info.binary ? "true" : "false", ",\n  \"mode\": \"",
      info.open_loop ? "request_rate" : "concurrency", "\"");
  if (info.open_loop) absl::StrAppend(&out, ",\n  \"distribution\": ", JsonString(info.distribution));
  absl::StrAppend(&out, ",\n  \"command\": ", JsonString(info.command_line), ",\n  \"steps\": [");
  for (size_t i = 0; i < steps.size(); ++i) {
    const StepResult& r = steps[i];
    const StepNumbers n = Numbers(r, info.percentile);
    const ErrorCounts& e = r.stats.errors;
    absl::StrAppend(&out, i ? "," : "", "\n    {",
                    info.open_loop ? "\"request_rate\": " : "\"concurrency\": ", Num(n.x),
                    ", \"throughput\": ", Num(n.throughput), ", \"requests_ok\": ", n.ok,
                    ", \"duration_s\": ", Num(r.stats.duration_ns * 1e-9),
                    ", \"windows\": ", r.windows, ", \"stable\": ", r.stable ? "true" : "false",
                    ",\n     \"latency_us\": {\"mean\": ", Num(n.avg_us), ", \"min\": ",
                    Num(n.min_us));
    for (int k = 0; k < 5; ++k) {
      absl::StrAppend(&out, ", \"p", absl::StrFormat("%g", kPercentiles[k]), "\": ", Num(n.p_us[k]));
    }
    if (info.percentile >= 0) {
      absl::StrAppend(&out, ", \"p", absl::StrFormat("%g", info.percentile), "\": ", Num(n.custom_us));
    }
    absl::StrAppend(&out, ", \"max\": ", Num(n.max_us), "},\n     \"client_send_us\": ",
                    Num(n.send_us), ", \"client_send_p50_us\": ",
                    Num(Us(r.stats.send_delay.ValueAtPercentile(50))),
                    ", \"client_send_p99_us\": ", Num(Us(r.stats.send_delay.ValueAtPercentile(99))),
                    ", \"server\": {\"queue_us\": ", OptNum(n.queue_us),
                    ", \"compute_us\": ", OptNum(n.compute_us), ", \"batch_size\": ",
                    OptNum(n.batch), "},\n     \"errors\": {\"total\": ", e.Total(),
                    ", \"connect\": ", e.connect, ", \"timeout\": ", e.timeout,
                    ", \"closed\": ", e.closed, ", \"bad_response\": ", e.bad_response,
                    ", \"http\": {");
    bool first = true;
    for (const auto& [code, count] : e.http_status) {
      absl::StrAppend(&out, first ? "" : ", ", "\"", code, "\": ", count);
      first = false;
    }
    absl::StrAppend(&out, "}},\n     \"client_cpu\": ", Num(r.client_cpu),
                    ", \"connections\": ", r.connections,
                    ",\n     \"timeline\": {\"bucket_s\": ", Num(r.series.width_ns() * 1e-9));
    // Per time bucket (by completion time): count and latency percentiles, for plotting.
    const struct {
      const char* name;
      double p;
    } series_fields[] = {{"count", -1}, {"p50_us", 50}, {"p99_us", 99}, {"max_us", 100}};
    for (const auto& field : series_fields) {
      absl::StrAppend(&out, ", \"", field.name, "\": [");
      for (size_t b = 0; b < r.series.buckets().size(); ++b) {
        const Histogram& h = r.series.buckets()[b];
        absl::StrAppend(&out, b ? "," : "",
                        field.p < 0 ? absl::StrCat(h.count()) : Num(Us(h.ValueAtPercentile(field.p))));
      }
      absl::StrAppend(&out, "]");
    }
    absl::StrAppend(&out, "}}");
  }
  absl::StrAppend(&out, "\n  ]\n}\n");
  return out;
}

std::string CsvReport(const ReportInfo& info, const std::vector<StepResult>& steps) {
  std::string out = absl::StrCat(
      info.open_loop ? "Request Rate" : "Concurrency",
      ",Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
      "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,"
      "p50 latency,p90 latency,p95 latency,p99 latency,p99.9 latency,Max latency,Avg latency,");
  if (info.percentile >= 0) absl::StrAppend(&out, absl::StrFormat("p%g latency,", info.percentile));
  absl::StrAppend(&out, "Batch Size,Successes,Errors,Timeouts,Connect Errors,HTTP Errors,Stable\n");
  for (const StepResult& r : steps) {
    const StepNumbers n = Numbers(r, info.percentile);
    const double queue = std::max(n.queue_us, 0.0), compute = std::max(n.compute_us, 0.0);
    const double network = std::max(n.avg_us - n.send_us - queue - compute, 0.0);
    uint64_t http = 0;
    for (const auto& [code, count] : r.stats.errors.http_status) http += count;
    absl::StrAppend(&out, absl::StrFormat("%g", n.x), ",", absl::StrFormat("%.1f", n.throughput));
    for (double v : {n.send_us, network, queue, 0.0, compute, 0.0, 0.0, n.p_us[0], n.p_us[1],
                     n.p_us[2], n.p_us[3], n.p_us[4], n.max_us, n.avg_us}) {
      absl::StrAppend(&out, ",", static_cast<int64_t>(std::llround(v)));
    }
    if (info.percentile >= 0) absl::StrAppend(&out, ",", static_cast<int64_t>(std::llround(n.custom_us)));
    absl::StrAppend(&out, ",", n.batch < 0 ? "" : absl::StrFormat("%.2f", n.batch), ",", n.ok, ",",
                    n.errors, ",", r.stats.errors.timeout, ",", r.stats.errors.connect, ",", http,
                    ",", r.stable ? 1 : 0, "\n");
  }
  return out;
}

std::string TextSummary(const ReportInfo& info, const std::vector<StepResult>& steps) {
  std::string out = absl::StrFormat("%12s %11s %9s %9s %9s %9s %9s %9s %8s %s\n",
                                    info.open_loop ? "rate/s" : "concurrency", "req/s",
                                    "p50 us", "p90 us", "p99 us", "p99.9 us", "max us", "send us",
                                    "errors", "server queue/compute us");
  for (const StepResult& r : steps) {
    const StepNumbers n = Numbers(r, info.percentile);
    std::string server = n.queue_us < 0 && n.compute_us < 0
                             ? "-"
                             : absl::StrFormat("%.0f/%.0f", std::max(n.queue_us, 0.0),
                                               std::max(n.compute_us, 0.0));
    absl::StrAppendFormat(&out, "%12g %11.0f %9.0f %9.0f %9.0f %9.0f %9.0f %9.1f %8d %s%s\n", n.x,
                          n.throughput, n.p_us[0], n.p_us[1], n.p_us[3], n.p_us[4], n.max_us,
                          n.send_us, n.errors, server, r.stable ? "" : "  (unstable)");
    const ErrorCounts& e = r.stats.errors;
    if (e.Total() > 0) {
      std::string kinds = absl::StrFormat("connect %d, timeout %d, closed %d, bad response %d",
                                          e.connect, e.timeout, e.closed, e.bad_response);
      for (const auto& [code, count] : e.http_status) absl::StrAppendFormat(&kinds, ", HTTP %d: %d", code, count);
      absl::StrAppend(&out, "             errors: ", kinds, "\n");
    }
  }
  return out;
}

std::string HtmlReport(const ReportInfo& info, const std::vector<StepResult>& steps) {
  std::vector<StepNumbers> numbers;
  for (const StepResult& r : steps) numbers.push_back(Numbers(r, info.percentile));
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>ptserve-bench report</title>\n<style>\n"
      "body{font-family:sans-serif;margin:24px;color:#222}"
      "table{border-collapse:collapse;font-size:13px}"
      "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "th{background:#f0f0f0}.charts{display:flex;flex-wrap:wrap;gap:16px}"
      "svg{border:1px solid #ddd}\n</style>\n</head>\n<body>\n"
      "<h1>ptserve-bench report</h1>\n<p>",
      Html(info.url), " &middot; model ", Html(info.model.empty() ? "-" : info.model),
      " &middot; endpoint ", Html(info.endpoint), info.binary ? " (binary tensors)" : "",
      " &middot; ", info.open_loop ? absl::StrCat("open loop, ", Html(info.distribution), " arrivals")
                                   : std::string("closed loop"),
      "</p>\n<p><code>", Html(info.command_line), "</code></p>\n<h2>Sweep</h2>\n<div class=\"charts\">",
      SweepSvg(info, numbers), "</div>\n<table>\n<tr><th>",
      info.open_loop ? "rate/s" : "concurrency",
      "</th><th>req/s</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th>"
      "<th>max</th><th>client send</th><th>server queue</th><th>server compute</th>"
      "<th>errors</th><th>stable</th></tr>\n");
  for (size_t i = 0; i < numbers.size(); ++i) {
    const StepNumbers& n = numbers[i];
    absl::StrAppend(&out, "<tr><td>", absl::StrFormat("%g", n.x), "</td><td>",
                    absl::StrFormat("%.0f", n.throughput), "</td>");
    for (double v : {n.p_us[0], n.p_us[1], n.p_us[2], n.p_us[3], n.p_us[4], n.max_us, n.send_us}) {
      absl::StrAppend(&out, "<td>", FormatUs(v), "</td>");
    }
    absl::StrAppend(&out, "<td>", n.queue_us < 0 ? "-" : FormatUs(n.queue_us), "</td><td>",
                    n.compute_us < 0 ? "-" : FormatUs(n.compute_us), "</td><td>", n.errors,
                    "</td><td>", steps[i].stable ? "yes" : "no", "</td></tr>\n");
  }
  absl::StrAppend(&out, "</table>\n");
  for (const StepResult& r : steps) {
    const std::string label = StepLabel(r.config);
    absl::StrAppend(&out, "<h2>", Html(label), "</h2>\n<div class=\"charts\">\n",
                    HeatMapSvg(BuildHeatMap(r.series), absl::StrCat("latency heat map, ", label)),
                    "\n",
                    PercentileCurvesSvg(r.series, absl::StrCat("latency percentiles over time, ", label)),
                    "\n</div>\n");
  }
  absl::StrAppend(&out, "</body>\n</html>\n");
  return out;
}

}  // namespace ptserve::bench
