// The request-path rules of the API layer that need no running server: saturating timeouts,
// the management API's Host/Origin/Content-Type/token checks, and error bodies that stay valid
// JSON/UTF-8 whatever the error message quotes.
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/http_status.h"
#include "server/inference_api.h"
#include "server/management_api.h"

namespace ptserve {
namespace {

TEST(TimeoutTest, HeaderParsesSaturatesAndRejects) {
  EXPECT_EQ(*ParseTimeoutHeader(""), std::nullopt);
  EXPECT_EQ(**ParseTimeoutHeader("0"), 0);
  EXPECT_EQ(**ParseTimeoutHeader(" 1500 "), 1500);
  EXPECT_EQ(**ParseTimeoutHeader("+7"), 7);
  // Huge values saturate instead of overflowing into an immediate deadline.
  EXPECT_EQ(**ParseTimeoutHeader("9223372036854775807"), kMaxRequestTimeoutUs);
  EXPECT_EQ(**ParseTimeoutHeader("9223372036854775808"), kMaxRequestTimeoutUs);
  EXPECT_EQ(**ParseTimeoutHeader("18446744073709551616"), kMaxRequestTimeoutUs);
  EXPECT_EQ(**ParseTimeoutHeader(std::string(400, '9')), kMaxRequestTimeoutUs);
  for (const char* bad : {"-1", "-9223372036854775808", "1.5", "1e9", "abc", "0x10", "+", " ",
                          "5 5", "\xff"}) {
    auto parsed = ParseTimeoutHeader(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(HttpStatusFor(parsed.status()), 400);
  }
}

TEST(TimeoutTest, SaturateKeepsDeadlinesRepresentable) {
  EXPECT_EQ(SaturateTimeoutUs(INT64_MAX), kMaxRequestTimeoutUs);
  EXPECT_EQ(SaturateTimeoutUs(-5), 0);
  EXPECT_EQ(SaturateTimeoutUs(1000), 1000);
  // now + the largest timeout, in steady_clock's nanoseconds, does not overflow for centuries.
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + std::chrono::microseconds(kMaxRequestTimeoutUs);
  EXPECT_GT(deadline, now);
}

TEST(ErrorBodyTest, ErrorForNeverEchoesInvalidUtf8OrControlBytes) {
  const absl::Status status = absl::InvalidArgumentError(
      std::string("unknown key '\xff\xfe\x01\"\\\n\xc3(' in \x80 body"));
  http::HttpResponse response = ErrorFor(status);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            R"({"error":"unknown key '\ufffd\ufffd\u0001\"\\\n\ufffd(' in \ufffd body"})");
}

TEST(ManagementGuardTest, SameSecretComparesWholeStrings) {
  EXPECT_TRUE(SameSecret("s3cret", "s3cret"));
  EXPECT_FALSE(SameSecret("s3cre", "s3cret"));
  EXPECT_FALSE(SameSecret("s3cret!", "s3cret"));
  EXPECT_FALSE(SameSecret("", "s3cret"));
  EXPECT_FALSE(SameSecret("S3cret", "s3cret"));
  EXPECT_TRUE(SameSecret("", ""));
}

TEST(ManagementGuardTest, HostMustBeLoopbackOrTheConfiguredAddress) {
  for (const char* ok : {"localhost", "localhost:8003", "LOCALHOST:1", "app.localhost:8003",
                         "127.0.0.1", "127.0.0.1:8003", "127.1.2.3:80", "[::1]:8003", "[::1]",
                         "localhost.", "[::ffff:127.0.0.1]:8003"}) {
    EXPECT_TRUE(ManagementHostAllowed(ok, "127.0.0.1")) << ok;
  }
  for (const char* bad : {"evil.example", "evil.example:8003", "attacker.com:8003",
                          "127.0.0.1.evil.example", "10.0.0.5:8003", "[::2]:8003", "",
                          "localhost:80:80", "[::1", "localhost.evil", "0.0.0.0:8003"}) {
    EXPECT_FALSE(ManagementHostAllowed(bad, "127.0.0.1")) << bad;
  }
  EXPECT_TRUE(ManagementHostAllowed("10.0.0.5:8003", "10.0.0.5"));
  EXPECT_TRUE(ManagementHostAllowed("mgmt.internal:8003", "mgmt.internal"));
  // Listening on every interface: any IP literal, never a name (DNS rebinding needs a name).
  EXPECT_TRUE(ManagementHostAllowed("10.0.0.5:8003", "0.0.0.0"));
  EXPECT_TRUE(ManagementHostAllowed("[fd00::1]:8003", "::"));
  EXPECT_FALSE(ManagementHostAllowed("rebind.example:8003", "0.0.0.0"));
}

TEST(ManagementGuardTest, JsonContentType) {
  EXPECT_TRUE(IsJsonContentType("application/json"));
  EXPECT_TRUE(IsJsonContentType("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(IsJsonContentType(" application/json ;charset=utf-8"));
  EXPECT_FALSE(IsJsonContentType(""));
  EXPECT_FALSE(IsJsonContentType("text/plain"));
  EXPECT_FALSE(IsJsonContentType("application/x-www-form-urlencoded"));
  EXPECT_FALSE(IsJsonContentType("multipart/form-data; boundary=x"));
  EXPECT_FALSE(IsJsonContentType("application/jsonp"));
}

}  // namespace
}  // namespace ptserve
