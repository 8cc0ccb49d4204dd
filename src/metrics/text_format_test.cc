#include "metrics/text_format.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace ptserve::metrics {
namespace {

std::string Value(double v) {
  std::string s;
  AppendValue(&s, v);
  return s;
}

TEST(TextFormatTest, ValuesIntegersExactlyOthersShortestRoundTrip) {
  EXPECT_EQ(Value(0), "0");
  EXPECT_EQ(Value(42), "42");
  EXPECT_EQ(Value(-3), "-3");
  EXPECT_EQ(Value(1e6), "1000000");
  EXPECT_EQ(Value(9007199254740991.0), "9007199254740991");
  EXPECT_EQ(Value(0.25), "0.25");
  EXPECT_EQ(Value(0.1), "0.1");
  EXPECT_EQ(Value(5e-05), "5e-05");
  EXPECT_EQ(Value(2.5), "2.5");
  EXPECT_EQ(Value(1e300), "1e+300");
  EXPECT_EQ(Value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(Value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(Value(std::nan("")), "NaN");
  // Round trip.
  for (double v : {0.1 + 0.2, 1.0 / 3.0, 123456.789, 1e-9}) {
    EXPECT_EQ(std::stod(Value(v)), v);
  }
}

TEST(TextFormatTest, LabelValueEscaping) {
  std::string s;
  AppendEscapedLabelValue(&s, "a\\b\"c\nd\te/é");
  EXPECT_EQ(s, "a\\\\b\\\"c\\nd\te/é");
}

TEST(TextFormatTest, HelpEscapingLeavesQuotes) {
  std::string s;
  AppendEscapedHelp(&s, "say \"hi\" \\ now\nok");
  EXPECT_EQ(s, "say \"hi\" \\\\ now\\nok");
}

TEST(TextFormatTest, Sample) {
  std::string s;
  AppendSample(&s, "x", {}, {}, nullptr, nullptr, 1);
  AppendSample(&s, "x", {"a", "b"}, {"1", "q\""}, nullptr, nullptr, 2);
  AppendSample(&s, "x_bucket", {"a"}, {"1"}, "le", "+Inf", 3);
  AppendSample(&s, "x_bucket", {}, {}, "le", "0.5", 4);
  EXPECT_EQ(s,
            "x 1\n"
            "x{a=\"1\",b=\"q\\\"\"} 2\n"
            "x_bucket{a=\"1\",le=\"+Inf\"} 3\n"
            "x_bucket{le=\"0.5\"} 4\n");
}

TEST(TextFormatTest, Names) {
  EXPECT_TRUE(IsValidMetricName("ptserve_inference_requests_total"));
  EXPECT_TRUE(IsValidMetricName("model:qps:rate1m"));
  EXPECT_TRUE(IsValidMetricName("_x"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("1x"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName("a b"));
  EXPECT_TRUE(IsValidLabelName("model"));
  EXPECT_TRUE(IsValidLabelName("_a1"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("9"));
  EXPECT_FALSE(IsValidLabelName(""));
}

}  // namespace
}  // namespace ptserve::metrics
