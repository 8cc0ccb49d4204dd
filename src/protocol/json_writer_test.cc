#include "protocol/json_writer.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"
#include "simdjson.h"

namespace ptserve {
namespace {

std::string Str(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

// Parses `json` with simdjson: the writer's output must always be valid JSON.
bool IsValidJson(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  return parser.parse(json).get(e) == simdjson::SUCCESS;
}

TEST(JsonWriterTest, EscapesQuotesBackslashAndControlCharacters) {
  EXPECT_EQ(Str("plain"), "\"plain\"");
  EXPECT_EQ(Str("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Str("\n\t\r\b\f"), "\"\\n\\t\\r\\b\\f\"");
  EXPECT_EQ(Str(std::string_view("\x00\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
  EXPECT_EQ(Str("/"), "\"/\"");
  EXPECT_EQ(Str(""), "\"\"");
}

TEST(JsonWriterTest, PassesValidUtf8Through) {
  const std::string s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";  // café € 😀
  EXPECT_EQ(Str(s), "\"" + s + "\"");
}

TEST(JsonWriterTest, EscapesInvalidUtf8BytesAsLatin1) {
  EXPECT_EQ(Str("\xff"), "\"\\u00ff\"");
  EXPECT_EQ(Str("a\xc3"), "\"a\\u00c3\"");                                 // truncated sequence
  EXPECT_EQ(Str("\xc0\xaf"), "\"\\u00c0\\u00af\"");                        // overlong
  EXPECT_EQ(Str("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");             // surrogate
  EXPECT_EQ(Str("\xf4\x90\x80\x80"), "\"\\u00f4\\u0090\\u0080\\u0080\"");  // > U+10FFFF
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_TRUE(IsValidJson(Str(all)));
}

TEST(JsonWriterTest, WritesNumbers) {
  std::string out;
  AppendJsonInt(&out, std::numeric_limits<int64_t>::min());
  out.push_back(' ');
  AppendJsonUint(&out, std::numeric_limits<uint64_t>::max());
  out.push_back(' ');
  AppendJsonFloat(&out, 0.1f);
  out.push_back(' ');
  AppendJsonDouble(&out, 0.1);
  out.push_back(' ');
  AppendJsonFloat(&out, 1.0f);
  out.push_back(' ');
  AppendJsonBool(&out, true);
  EXPECT_EQ(out, "-9223372036854775808 18446744073709551615 0.1 0.1 1 true");
}

TEST(JsonWriterTest, FloatsRoundTrip) {
  for (float f : {3.4028235e38f, 1.17549435e-38f, 1.4e-45f, -2.5f, 123456.789f}) {
    std::string out;
    AppendJsonFloat(&out, f);
    float back = 0;
    std::from_chars(out.data(), out.data() + out.size(), back);
    EXPECT_EQ(back, f) << out;
    EXPECT_TRUE(IsValidJson(out)) << out;
  }
  std::string out;
  AppendJsonDouble(&out, 1e300);
  EXPECT_TRUE(IsValidJson(out)) << out;
}

TEST(JsonWriterTest, NonFiniteValuesAreStrings) {
  std::string out = "[";
  AppendJsonFloat(&out, std::numeric_limits<float>::quiet_NaN());
  out.push_back(',');
  AppendJsonDouble(&out, std::numeric_limits<double>::infinity());
  out.push_back(',');
  AppendJsonFloat(&out, -std::numeric_limits<float>::infinity());
  out.push_back(']');
  EXPECT_EQ(out, "[\"NaN\",\"Infinity\",\"-Infinity\"]");
  EXPECT_TRUE(IsValidJson(out));
}

TEST(JsonWriterTest, ErrorBody) {
  EXPECT_EQ(JsonErrorBody("input 'x': bad \"thing\"\n"),
            "{\"error\":\"input 'x': bad \\\"thing\\\"\\n\"}");
}

}  // namespace
}  // namespace ptserve
