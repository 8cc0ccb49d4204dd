#include "server/http/http_message.h"

#include <string>

#include "gtest/gtest.h"

namespace ptserve::http {
namespace {

TEST(JsonErrorTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonError("plain"), R"({"error":"plain"})");
  EXPECT_EQ(JsonError("a \"b\" \\ c"), R"({"error":"a \"b\" \\ c"})");
  EXPECT_EQ(JsonError("line\nnext\ttab"), R"({"error":"line\nnext\ttab"})");
  EXPECT_EQ(JsonError(std::string("nul\0x", 5)), R"({"error":"nul\u0000x"})");
  EXPECT_EQ(JsonError("\x1f\x7f"), R"({"error":"\u001f\u007f"})");
  EXPECT_EQ(JsonError("caf\xc3\xa9"), "{\"error\":\"caf\xc3\xa9\"}");  // UTF-8 passes through
}

TEST(ErrorResponseTest, HasStatusJsonTypeAndBody) {
  HttpResponse response = ErrorResponse(404, "no such model");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"error":"no such model"})");
}

TEST(HttpRequestTest, HeaderAndParamLookups) {
  HttpRequest request;
  request.headers["content-type"] = "application/json";
  request.path_params = {{"model", "mlp"}, {"version", "2"}};
  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_EQ(request.Header("accept"), "");
  EXPECT_EQ(request.Param("model"), "mlp");
  EXPECT_EQ(request.Param("version"), "2");
  EXPECT_EQ(request.Param("other"), "");
  request.Clear();
  EXPECT_TRUE(request.headers.empty());
  EXPECT_TRUE(request.path_params.empty());
}

}  // namespace
}  // namespace ptserve::http
