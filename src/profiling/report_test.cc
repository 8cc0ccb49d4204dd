#include "profiling/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "simdjson.h"

namespace ptserve::profiling {
namespace {

using ::testing::DoubleNear;

const OperatorStats* Find(const ProfileReport& report, const std::string& name) {
  for (const OperatorStats& op : report.operators) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

// forward [0, 100): linear [10, 60) { t [10, 12), addmm [12, 58) }, relu [60, 70)
ExecutionTrace Mlp(double offset) {
  ExecutionTrace e;
  e.thread = 7;
  e.start_us = offset;
  e.end_us = offset + 100;
  e.batch_size = 4;
  e.events = {{"aten::relu", 7, offset + 60, offset + 70},
              {"aten::addmm", 7, offset + 12, offset + 58},
              {"aten::linear", 7, offset + 10, offset + 60},
              {"aten::t", 7, offset + 10, offset + 12}};
  return e;
}

TEST(BuildReportTest, SelfTimeIsTotalMinusChildren) {
  ProfileReport report = BuildReport(2, false, "ptserve mlp:1", {Mlp(1000), Mlp(2000)});
  EXPECT_EQ(report.executions, 2);
  EXPECT_DOUBLE_EQ(report.total_us, 200);
  ASSERT_EQ(report.operators.size(), 4u);
  EXPECT_EQ(report.operators[0].name, "aten::addmm");  // by self time
  const OperatorStats* linear = Find(report, "aten::linear");
  ASSERT_NE(linear, nullptr);
  EXPECT_EQ(linear->calls, 2);
  EXPECT_DOUBLE_EQ(linear->total_us, 100);
  EXPECT_DOUBLE_EQ(linear->self_us, 4);  // 2 x (50 - 2 - 46)
  EXPECT_DOUBLE_EQ(report.operator_us, 2 * (2 + 2 + 46 + 10));
  double shares = 0;
  for (const OperatorStats& op : report.operators) shares += op.self_share;
  EXPECT_THAT(shares, DoubleNear(1.0, 1e-9));
}

TEST(BuildReportTest, RecursiveOperatorCountsItsOutermostCall) {
  ExecutionTrace e;
  e.end_us = 10;
  e.events = {{"aten::to", 1, 0, 10}, {"aten::to", 1, 2, 6}, {"aten::copy_", 1, 3, 5}};
  ProfileReport report = BuildReport(1, false, "p", {e});
  const OperatorStats* to = Find(report, "aten::to");
  ASSERT_NE(to, nullptr);
  EXPECT_EQ(to->calls, 2);
  EXPECT_DOUBLE_EQ(to->total_us, 10);
  EXPECT_DOUBLE_EQ(to->self_us, 8);  // 6 + 2
}

TEST(BuildReportTest, ThreadsAreSeparateStacks) {
  ExecutionTrace e;
  e.end_us = 10;
  e.events = {{"a", 1, 0, 10}, {"b", 2, 1, 9}};  // b is not a's child
  ProfileReport report = BuildReport(1, false, "p", {e});
  EXPECT_DOUBLE_EQ(Find(report, "a")->self_us, 10);
  EXPECT_DOUBLE_EQ(Find(report, "b")->self_us, 8);
}

TEST(BuildReportTest, TraceIsChromeTraceJson) {
  ProfileReport report = BuildReport(3, true, "ptserve \"mlp\":1", {Mlp(1000), Mlp(2000)});
  EXPECT_TRUE(report.timed_out);
  EXPECT_EQ(report.requested, 3);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(report.trace_json).get(doc), simdjson::SUCCESS) << report.trace_json;
  simdjson::dom::array events;
  ASSERT_EQ(doc["traceEvents"].get(events), simdjson::SUCCESS);
  int complete = 0, executions = 0;
  double first_ts = -1;
  for (simdjson::dom::element e : events) {
    std::string_view ph, name;
    ASSERT_EQ(e["ph"].get(ph), simdjson::SUCCESS);
    ASSERT_EQ(e["name"].get(name), simdjson::SUCCESS);
    if (ph != "X") continue;
    ++complete;
    if (name == "execution") {
      double ts = 0;
      ASSERT_EQ(e["ts"].get(ts), simdjson::SUCCESS);
      if (first_ts < 0) first_ts = ts;
      ++executions;
    }
  }
  EXPECT_EQ(complete, 10);
  EXPECT_EQ(executions, 2);
  EXPECT_DOUBLE_EQ(first_ts, 0);  // relative to the first execution
}

TEST(BuildReportTest, NothingCaptured) {
  ProfileReport report = BuildReport(5, true, "p", {});
  EXPECT_EQ(report.executions, 0);
  EXPECT_TRUE(report.operators.empty());
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(report.trace_json).get(doc), simdjson::SUCCESS);
}

}  // namespace
}  // namespace ptserve::profiling
