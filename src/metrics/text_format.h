// Prometheus text exposition format 0.0.4: the pieces every family writes.
// https://prometheus.io/docs/instrumenting/exposition_formats/
//
//   std::string out;
//   AppendSample(&out, "x_total", {"model"}, {"a\"b"}, nullptr, nullptr, 3);
//   // x_total{model="a\"b"} 3
//
// Pure functions; thread-safe.
#ifndef PTSERVE_METRICS_TEXT_FORMAT_H_
#define PTSERVE_METRICS_TEXT_FORMAT_H_

#include <string>
#include <string_view>
#include <vector>

namespace ptserve::metrics {

// The Content-Type of a scrape response.
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved).
bool IsValidLabelName(std::string_view name);

// A sample value: integral values below 2^53 as integers ("42"), others in
// the shortest form that reads back exactly ("0.25", "5e-05"), and "+Inf",
// "-Inf", "NaN".
void AppendValue(std::string* out, double value);

// A label value with `\`, `"` and newline escaped as `\\`, `\"`, `\n`.
void AppendEscapedLabelValue(std::string* out, std::string_view value);

// HELP text with `\` and newline escaped as `\\` and `\n`.
void AppendEscapedHelp(std::string* out, std::string_view help);

// One line: `name{l1="v1",...,extra="extra_value"} value\n`. The braces are
// left out when there are no labels. `extra_label` (may be null) goes last,
// as `le` does for histogram buckets.
void AppendSample(std::string* out, std::string_view name,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, const char* extra_label,
                  const char* extra_value, double value);

}  // namespace ptserve::metrics

#endif  // PTSERVE_METRICS_TEXT_FORMAT_H_
