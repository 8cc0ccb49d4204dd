#include "report.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace ptserve::bench {
namespace {

// A tiny HTML/SVG well-formedness checker: every non-void start tag is closed in order,
// attributes are quoted, and no stray '<' appears in text.
::testing::AssertionResult WellFormed(const std::string& html) {
  static const char* kVoid[] = {"meta", "br", "hr", "img", "input", "link"};
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    if (html.compare(i, 9, "<!DOCTYPE") == 0) {
      i = html.find('>', i);
      continue;
    }
    const size_t end = html.find('>', i);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unterminated tag at " << i;
    std::string tag = html.substr(i + 1, end - i - 1);
    if (tag.find('<') != std::string::npos) {
      return ::testing::AssertionFailure() << "'<' inside tag at " << i;
    }
    size_t quotes = 0;
    for (char c : tag) quotes += c == '"';
    if (quotes % 2) return ::testing::AssertionFailure() << "unbalanced quotes in <" << tag << ">";
    i = end + 1;
    if (tag.empty()) return ::testing::AssertionFailure() << "empty tag";
    const bool closing = tag[0] == '/';
    const bool self_closing = tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0, tag.find_first_of(" /", closing ? 1 : 0) - (closing ? 1 : 0));
    if (self_closing) continue;
    bool is_void = false;
    for (const char* v : kVoid) is_void |= name == v;
    if (is_void) continue;
    if (!closing) {
      stack.push_back(name);
      if (name == "style") {  // raw text up to </style>
        i = html.find("</style>", i);
        if (i == std::string::npos) return ::testing::AssertionFailure() << "unclosed style";
      }
      continue;
    }
    if (stack.empty() || stack.back() != name) {
      return ::testing::AssertionFailure()
             << "</" << name << "> closes <" << (stack.empty() ? "nothing" : stack.back()) << ">";
    }
    stack.pop_back();
  }
  if (!stack.empty()) return ::testing::AssertionFailure() << "unclosed <" << stack.back() << ">";
  return ::testing::AssertionSuccess();
}

StepResult FakeStep(int concurrency, int64_t base_ns, int seconds) {
  StepResult r;
  r.config = StepConfig::Closed(concurrency);
  r.series = TimeSeries(1'000'000'000, 120);
  for (int s = 0; s < seconds; ++s) {
    for (int i = 0; i < 1000; ++i) {
      const int64_t latency = base_ns + (i % 100) * base_ns / 10 + (i == 999 ? base_ns * 50 : 0);
      r.series.Record(s * 1'000'000'000LL + i * 1'000'000, latency);
      r.stats.latency.Record(latency);
      r.stats.send_delay_sum_ns += 2000;
      ++r.stats.send_delay_count;
      ++r.stats.ok;
    }
  }
  r.stats.duration_ns = seconds * 1'000'000'000LL;
  r.stats.errors.http_status[503] = 3;
  r.stats.errors.timeout = 1;
  r.stats.queue_us_sum = 100;
  r.stats.queue_count = 10;
  r.windows = 3;
  return r;
}

TEST(ReportTest, HeatMapCellsCoverAllCounts) {
  StepResult r = FakeStep(4, 100'000, 5);
  HeatMap hm = BuildHeatMap(r.series, 4, 48);
  ASSERT_EQ(hm.counts.size(), 5u);  // 5 one-second columns
  const size_t rows = hm.row_edges_ns.size() - 1;
  EXPECT_GT(rows, 4u);
  EXPECT_LE(rows, 48u);
  uint64_t total = 0;
  for (const auto& column : hm.counts) {
    ASSERT_EQ(column.size(), rows);
    for (uint64_t c : column) total += c;
  }
  EXPECT_EQ(total, 5000u);
  for (size_t k = 0; k + 1 < hm.row_edges_ns.size(); ++k) EXPECT_LT(hm.row_edges_ns[k], hm.row_edges_ns[k + 1]);
  EXPECT_LE(hm.row_edges_ns.front(), 100'000);
  EXPECT_GT(hm.row_edges_ns.back(), 100'000 * 60);
  // Log spacing: the ratio between neighbouring edges is constant (ignoring rounding).
  const double ratio = static_cast<double>(hm.row_edges_ns[2]) / hm.row_edges_ns[1];
  EXPECT_NEAR(static_cast<double>(hm.row_edges_ns[3]) / hm.row_edges_ns[2], ratio, 0.01);
}

TEST(ReportTest, HtmlIsWellFormedAndSelfContained) {
  std::vector<StepResult> steps = {FakeStep(1, 50'000, 3), FakeStep(8, 200'000, 4)};
  ReportInfo info{"localhost:8000", "m<1>", "v2", false, false, "", 99.0, "ptserve-bench -m 'm<1>'"};
  const std::string html = HtmlReport(info, steps);
  EXPECT_TRUE(WellFormed(html));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://cdn"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("m&lt;1&gt;"), std::string::npos);
  // One heat map cell per non-empty (column, row) pair.
  size_t expected_cells = 0;
  for (const StepResult& s : steps) {
    for (const auto& column : BuildHeatMap(s.series).counts) {
      for (uint64_t c : column) expected_cells += c > 0;
    }
  }
  size_t cells = 0;
  for (size_t p = 0; (p = html.find("class=\"cell\"", p)) != std::string::npos; ++p) ++cells;
  EXPECT_EQ(cells, expected_cells);
  size_t curves = 0;
  for (size_t p = 0; (p = html.find("class=\"curve\"", p)) != std::string::npos; ++p) ++curves;
  EXPECT_EQ(curves, 2u * 5);  // p50, p90, p99, p99.9, max per step
  EXPECT_TRUE(WellFormed(HtmlReport(info, {})));
}

TEST(ReportTest, WellFormedCheckerCatchesMistakes) {
  EXPECT_FALSE(WellFormed("<html><body></html>"));
  EXPECT_FALSE(WellFormed("<svg><rect x=\"1></svg>"));
  EXPECT_TRUE(WellFormed("<html><meta charset=\"utf-8\"><svg><rect/></svg></html>"));
}

TEST(ReportTest, JsonParsesAndHasTheNumbers) {
  std::vector<StepResult> steps = {FakeStep(2, 50'000, 2)};
  ReportInfo info{"localhost:8000", "m", "v2", true, false, "", -1, "cmd \"quoted\""};
  const std::string json = JsonReport(info, steps);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  simdjson::dom::element step = doc["steps"].at(0);
  EXPECT_EQ(int64_t(step["concurrency"].get_double().value()), 2);
  EXPECT_EQ(int64_t(step["requests_ok"].get_int64().value()), 2000);
  EXPECT_NEAR(step["throughput"].get_double().value(), 1000, 1);
  EXPECT_EQ(int64_t(step["errors"]["http"]["503"].get_int64().value()), 3);
  EXPECT_EQ(int64_t(step["errors"]["total"].get_int64().value()), 4);
  EXPECT_NEAR(step["server"]["queue_us"].get_double().value(), 10, 1e-9);
  EXPECT_TRUE(step["server"]["compute_us"].is_null());
  simdjson::dom::array counts = step["timeline"]["count"].get_array().value();
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(int64_t(counts.at(0).get_int64().value()), 1000);
  EXPECT_GT(step["latency_us"]["p99"].get_double().value(), step["latency_us"]["p50"].get_double().value());
}

TEST(ReportTest, CsvHasPerfAnalyzerColumns) {
  std::vector<StepResult> steps = {FakeStep(1, 50'000, 2), FakeStep(2, 60'000, 2)};
  ReportInfo info;
  const std::string csv = CsvReport(info, steps);
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("Concurrency,Inferences/Second,Client Send,", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("Server Queue,Server Compute Input,Server Compute Infer"), std::string::npos);
  EXPECT_NE(lines[0].find("p50 latency,p90 latency,p95 latency,p99 latency"), std::string::npos);
  const size_t columns = std::vector<std::string>(absl::StrSplit(lines[0], ',')).size();
  for (const std::string& l : lines) EXPECT_EQ(std::vector<std::string>(absl::StrSplit(l, ',')).size(), columns);
  info.open_loop = true;
  EXPECT_EQ(CsvReport(info, steps).rfind("Request Rate,", 0), 0u);
}

}  // namespace
}  // namespace ptserve::bench
