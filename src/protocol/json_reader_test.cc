#include "protocol/json_reader.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::testing::HasSubstr;

TEST(JsonReaderTest, ParsesWithAndWithoutPadding) {
  std::string small = "{\"a\":[1,2]}";  // capacity probably lacks padding: copied
  auto root = ParseJson(small, small.size());
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->type(), simdjson::dom::element_type::OBJECT);

  std::string padded = "[true]";
  padded.reserve(padded.size() + simdjson::SIMDJSON_PADDING);
  auto root2 = ParseJson(padded, padded.capacity());
  ASSERT_TRUE(root2.ok()) << root2.status();
  EXPECT_EQ(root2->type(), simdjson::dom::element_type::ARRAY);
}

TEST(JsonReaderTest, ParsesAPrefix) {
  std::string body = "{\"a\":1}GARBAGE";
  auto root = ParseJson(std::string_view(body.data(), 7), body.capacity());
  ASSERT_TRUE(root.ok()) << root.status();
}

TEST(JsonReaderTest, ReportsTheByteOffsetOfSyntaxErrors) {
  struct Case {
    std::string json;
    size_t offset;
    std::string reason;
  };
  const Case cases[] = {
      {"{\"inputs\": [1, 2,, 3]}", 17, "expected a value"},
      {"{\"a\" 1}", 5, "expected ':'"},
      {"[1 2]", 3, "expected ',' or ']'"},
      {"{\"a\":1", 6, "unexpected end of input"},
      {"", 0, "unexpected end of input"},
      {"[01]", 1, "invalid number"},
      {"[1.]", 1, "invalid number"},
      {"[\"a\nb\"]", 3, "control character"},
      {"[\"\\x\"]", 3, "invalid escape"},
      {"[\"\xff\"]", 2, "invalid UTF-8"},
      {"[tru]", 1, "expected 'true'"},
      {"{} x", 3, "unexpected content"},
      {"{1:2}", 1, "expected a string key"},
  };
  for (const Case& c : cases) {
    std::optional<JsonSyntaxError> error = FindJsonSyntaxError(c.json);
    ASSERT_TRUE(error.has_value()) << c.json;
    EXPECT_EQ(error->offset, c.offset) << c.json;
    EXPECT_THAT(error->reason, HasSubstr(c.reason)) << c.json;

    auto parsed = ParseJson(c.json, c.json.size());
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(),
                HasSubstr("malformed JSON at byte " + std::to_string(c.offset) + ": "))
        << c.json;
  }
}

TEST(JsonReaderTest, AcceptsValidJson) {
  for (std::string json : {"{}", "[]", " [1, -2.5e3, true, false, null, \"\\u00e9\\n\"] ",
                           "{\"a\":{\"b\":[[]]}}", "0", "\"caf\xc3\xa9\""}) {
    EXPECT_FALSE(FindJsonSyntaxError(json).has_value()) << json;
    EXPECT_TRUE(ParseJson(json, json.size()).ok()) << json;
  }
}

TEST(JsonReaderTest, TooDeepNestingIsAnError) {
  std::string json(2000, '[');
  json.append(2000, ']');
  auto parsed = ParseJson(json, json.size());
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("malformed JSON"));
}

TEST(JsonReaderTest, NumberOutOfRangeIsAnError) {
  std::string json = "[1e400]";
  auto parsed = ParseJson(json, json.size());
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("malformed JSON"));
}

TEST(JsonReaderTest, Snippet) {
  std::string json = "[\"" + std::string(100, 'a') + "\", 7]";
  auto root = ParseJson(json, json.size());
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(JsonSnippet(root->at(1).value()), "7");
  EXPECT_EQ(JsonSnippet(root->at(0).value()).size(), 43u);
}

}  // namespace
}  // namespace ptserve
