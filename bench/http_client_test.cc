#include "http_client.h"

#include <string>

#include "gtest/gtest.h"

namespace ptserve::bench {
namespace {

using Result = ResponseParser::Result;

TEST(ParseEndpointTest, AcceptsPerfAnalyzerForms) {
  auto a = ParseEndpoint("localhost:8000");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 8000);
  EXPECT_EQ(a->host_header, "localhost:8000");
  auto b = ParseEndpoint("http://127.0.0.1:9/");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->port, 9);
  EXPECT_EQ(b->host_header, "127.0.0.1:9");
  EXPECT_EQ(ParseEndpoint("127.0.0.1")->port, 80);
  EXPECT_EQ(ParseEndpoint("grpc://localhost:8001").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_FALSE(ParseEndpoint("localhost:notaport").ok());
  EXPECT_FALSE(ParseEndpoint("localhost:70000").ok());
}

TEST(SerializeRequestTest, WritesHeadersAndBody) {
  Endpoint ep = *ParseEndpoint("127.0.0.1:8000");
  std::string r = SerializeRequest("POST", "/predict", ep, "application/json",
                                   {{"Inference-Header-Content-Length", "2"}}, "{}");
  EXPECT_EQ(r,
            "POST /predict HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\nInference-Header-Content-Length: 2\r\n\r\n{}");
  EXPECT_EQ(SerializeRequest("GET", "/v2", ep, "", {}, ""),
            "GET /v2 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n");
}

TEST(ResponseParserTest, ContentLengthInPieces) {
  const std::string resp =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Queue-Time-Us: 12\r\nx-compute-time-us: 34\r\n"
      "X-Batch-Size: 4\r\n\r\nhello";
  ResponseParser p;
  ResponseInfo info;
  size_t consumed = 0;
  for (size_t n = 1; n < resp.size(); ++n) {
    ASSERT_EQ(p.Parse(resp.data(), n, &info, &consumed), Result::kNeedMore) << n;
  }
  ASSERT_EQ(p.Parse(resp.data(), resp.size(), &info, &consumed), Result::kComplete);
  EXPECT_EQ(consumed, resp.size());
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(info.body, "hello");
  EXPECT_TRUE(info.keep_alive);
  EXPECT_EQ(info.queue_time_us, 12);
  EXPECT_EQ(info.compute_time_us, 34);
  EXPECT_EQ(info.batch_size, 4);
}

TEST(ResponseParserTest, TwoResponsesInOneBuffer) {
  const std::string two = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
                          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  ResponseParser p;
  ResponseInfo info;
  size_t consumed = 0;
  ASSERT_EQ(p.Parse(two.data(), two.size(), &info, &consumed), Result::kComplete);
  EXPECT_EQ(info.status, 503);
  ASSERT_EQ(p.Parse(two.data() + consumed, two.size() - consumed, &info, &consumed),
            Result::kComplete);
  EXPECT_EQ(info.status, 200);
  EXPECT_FALSE(info.keep_alive);
  EXPECT_EQ(info.body, "ok");
}

TEST(ResponseParserTest, ChunkedBody) {
  const std::string resp =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
  ResponseParser p;
  ResponseInfo info;
  size_t consumed = 0;
  ASSERT_EQ(p.Parse(resp.data(), resp.size() - 1, &info, &consumed), Result::kNeedMore);
  ASSERT_EQ(p.Parse(resp.data(), resp.size(), &info, &consumed), Result::kComplete);
  EXPECT_EQ(info.body, "hello, world");
  EXPECT_EQ(consumed, resp.size());
}

TEST(ResponseParserTest, ServerTimingFromKServeBody) {
  const std::string body =
      R"({"model_name":"m","parameters":{"queue_time_us": 120,"compute_time_us":450,"batch_size":8},"outputs":[]})";
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\n\r\n" + body;
  ResponseParser p;
  ResponseInfo info;
  size_t consumed = 0;
  ASSERT_EQ(p.Parse(resp.data(), resp.size(), &info, &consumed), Result::kComplete);
  EXPECT_EQ(info.queue_time_us, 120);
  EXPECT_EQ(info.compute_time_us, 450);
  EXPECT_EQ(info.batch_size, 8);
  p.set_scan_body_for_timing(false);
  ASSERT_EQ(p.Parse(resp.data(), resp.size(), &info, &consumed), Result::kComplete);
  EXPECT_EQ(info.queue_time_us, -1);
}

TEST(ResponseParserTest, BodyFramedByCloseAndHttp10) {
  const std::string resp = "HTTP/1.0 200 OK\r\n\r\nuntil close";
  ResponseParser p;
  ResponseInfo info;
  size_t consumed = 0;
  ASSERT_EQ(p.Parse(resp.data(), resp.size(), &info, &consumed), Result::kNeedMore);
  ASSERT_EQ(p.ParseAtEof(resp.data(), resp.size(), &info, &consumed), Result::kComplete);
  EXPECT_EQ(info.body, "until close");
  EXPECT_FALSE(info.keep_alive);
}

TEST(ResponseParserTest, RejectsGarbage) {
  ResponseParser p;
  ResponseInfo info;
  size_t consumed = 0;
  const std::string bad = "SSH-2.0-OpenSSH\r\n\r\n";
  EXPECT_EQ(p.Parse(bad.data(), bad.size(), &info, &consumed), Result::kError);
  p.Reset();
  const std::string bad_len = "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n";
  EXPECT_EQ(p.Parse(bad_len.data(), bad_len.size(), &info, &consumed), Result::kError);
  p.Reset();
  const std::string truncated = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  EXPECT_EQ(p.ParseAtEof(truncated.data(), truncated.size(), &info, &consumed), Result::kError);
}

}  // namespace
}  // namespace ptserve::bench
