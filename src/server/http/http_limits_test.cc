// The transport's limit logic without sockets: the request parser's limits (trailers,
// chunk extensions, memory budget), the pending-bytes check for chunked bodies, the rejection
// answers, and UTF-8-safe JSON error bodies.
#include <boost/asio/buffer.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http/connection.h"
#include "server/http/http_message.h"
#include "server/http/memory_budget.h"

namespace ptserve::http {
namespace {

using internal::ChunkedPendingProblem;
using internal::ParserLimits;
using internal::RejectionResponse;
using internal::RequestParser;
using ::testing::HasSubstr;

// Feeds `wire` to a fresh parser as the connection does; returns the error (empty when the
// request parsed completely) and how many bytes were left unconsumed.
struct ParseResult {
  boost::system::error_code ec;
  size_t unconsumed = 0;
  bool done = false;
  std::optional<Rejection> failure;
};

ParseResult Parse(std::string_view wire, HttpRequest* request, std::string* body,
                  const ParserLimits& limits) {
  RequestParser parser(request, body, limits);
  ParseResult result;
  while (!wire.empty() && !parser.is_done()) {
    const size_t used = parser.put(boost::asio::buffer(wire.data(), wire.size()), result.ec);
    wire.remove_prefix(used);
    if (result.ec == boost::beast::http::error::need_more) {
      result.ec = {};
      break;
    }
    if (result.ec || used == 0) break;
  }
  result.unconsumed = wire.size();
  result.done = parser.is_done();
  result.failure = parser.failure();
  return result;
}

constexpr char kChunkedHead[] =
    "POST /echo HTTP/1.1\r\nHost: t\r\nX-Request-ID: from-header\r\nX-Timeout-Us: 5\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

TEST(RequestParserTest, TrailerFieldsNeverBecomeHeaders) {
  HttpRequest request;
  std::string body;
  const std::string wire = absl::StrCat(
      kChunkedHead, "3\r\nabc\r\n0\r\nX-Request-ID: smuggled\r\nX-Timeout-Us: 0\r\n",
      "X-New: trailer-only\r\n\r\n");
  ParseResult r = Parse(wire, &request, &body, ParserLimits{});
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_TRUE(r.done);
  EXPECT_EQ(body, "abc");
  EXPECT_EQ(request.Header("x-request-id"), "from-header");
  EXPECT_EQ(request.Header("x-timeout-us"), "5");
  EXPECT_EQ(request.Header("x-new"), "");
}

TEST(RequestParserTest, TrailerBytesAreBounded) {
  HttpRequest request;
  std::string body;
  const std::string wire = absl::StrCat(kChunkedHead, "1\r\na\r\n0\r\nX-Big: ",
                                        std::string(200, 'x'), "\r\n\r\n");
  ParseResult r = Parse(wire, &request, &body, ParserLimits{.trailer_bytes = 100});
  EXPECT_TRUE(r.ec);
  EXPECT_EQ(r.failure, Rejection::kTrailerTooLarge);
}

TEST(RequestParserTest, ChunkExtensionsAreBoundedPerRequest) {
  HttpRequest request;
  std::string body;
  // Each extension is small; together they exceed the limit.
  std::string wire(kChunkedHead);
  for (int i = 0; i < 20; ++i) absl::StrAppend(&wire, "1;name=value\r\na\r\n");
  absl::StrAppend(&wire, "0\r\n\r\n");
  ParseResult r = Parse(wire, &request, &body, ParserLimits{.chunk_extension_bytes = 100});
  EXPECT_TRUE(r.ec);
  EXPECT_EQ(r.failure, Rejection::kChunkExtensionTooLarge);
  // Within the limit the same request parses.
  HttpRequest again;
  std::string again_body;
  ParseResult ok = Parse(wire, &again, &again_body, ParserLimits{.chunk_extension_bytes = 1000});
  EXPECT_FALSE(ok.ec) << ok.ec.message();
  EXPECT_EQ(again_body, std::string(20, 'a'));
}

TEST(RequestParserTest, ContentLengthIsReservedUpFront) {
  MemoryBudget budget(100);
  MemoryBudget::Reservation reservation(&budget);
  HttpRequest request;
  std::string body;
  ParseResult r = Parse("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\n\r\n", &request,
                        &body, ParserLimits{.reservation = &reservation});
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(budget.used(), 60u);  // before a single body byte has arrived
  HttpRequest second;
  std::string second_body;
  MemoryBudget::Reservation other(&budget);
  ParseResult over = Parse("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 41\r\n\r\n", &second,
                           &second_body, ParserLimits{.reservation = &other});
  EXPECT_TRUE(over.ec);
  EXPECT_EQ(over.failure, Rejection::kMemoryBudget);
  EXPECT_EQ(budget.used(), 60u);
  reservation.Reset();
  EXPECT_EQ(budget.used(), 0u);
}

TEST(RequestParserTest, ChunksAreReservedAsAnnounced) {
  MemoryBudget budget(10);
  MemoryBudget::Reservation reservation(&budget);
  HttpRequest request;
  std::string body;
  ParseResult r = Parse(absl::StrCat(kChunkedHead, "6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n"),
                        &request, &body, ParserLimits{.reservation = &reservation});
  EXPECT_TRUE(r.ec);
  EXPECT_EQ(r.failure, Rejection::kMemoryBudget);
  EXPECT_EQ(reservation.bytes(), 6u);
}

TEST(RequestParserTest, HeaderLimitIsConfigurable) {
  HttpRequest request;
  std::string body;
  const std::string wire =
      absl::StrCat("GET / HTTP/1.1\r\nHost: t\r\nX-Pad: ", std::string(600, 'p'), "\r\n\r\n");
  EXPECT_EQ(Parse(wire, &request, &body, ParserLimits{.header_bytes = 512}).ec,
            boost::beast::http::error::header_limit);
  HttpRequest ok_request;
  EXPECT_FALSE(Parse(wire, &ok_request, &body, ParserLimits{.header_bytes = 4096}).ec);
}

TEST(RequestParserTest, TransferEncodingMustEndWithChunked) {
  for (const char* coding : {"gzip", "chunked, identity", "identity"}) {
    HttpRequest request;
    std::string body;
    ParseResult r = Parse(absl::StrCat("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: ",
                                       coding, "\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"),
                          &request, &body, ParserLimits{});
    EXPECT_TRUE(r.ec) << coding;
    EXPECT_EQ(r.failure, Rejection::kMalformed) << coding;
  }
  HttpRequest request;
  std::string body;
  EXPECT_FALSE(Parse(absl::StrCat("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, "
                                  "chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"),
                     &request, &body, ParserLimits{})
                   .ec);
}

TEST(ChunkedPendingProblemTest, BoundsChunkSizeLinesAndTrailers) {
  // An unfinished chunk-size line: size plus extensions.
  EXPECT_EQ(ChunkedPendingProblem("10;ext=abc", 100, 100), std::nullopt);
  EXPECT_EQ(ChunkedPendingProblem(absl::StrCat("10;", std::string(200, 'e')), 100, 100),
            Rejection::kChunkExtensionTooLarge);
  // The CRLF ending the previous chunk's data does not count.
  EXPECT_EQ(ChunkedPendingProblem("\r\n10;x", 100, 100), std::nullopt);
  // A complete line over the limit (the last chunk with a huge extension).
  EXPECT_EQ(ChunkedPendingProblem(absl::StrCat("0;", std::string(500, 'e'), "\r\n"), 100, 100),
            Rejection::kChunkExtensionTooLarge);
  // The last chunk waiting for the end of its trailer section.
  EXPECT_EQ(ChunkedPendingProblem("0\r\nX-A: b\r\n", 100, 100), std::nullopt);
  EXPECT_EQ(ChunkedPendingProblem(absl::StrCat("0\r\nX-A: ", std::string(200, 'b')), 100, 100),
            Rejection::kTrailerTooLarge);
  EXPECT_EQ(ChunkedPendingProblem("", 0, 0), std::nullopt);
}

TEST(RejectionResponseTest, StatusAndBodyPerReason) {
  HttpServer::Options options;
  options.memory_budget = std::make_shared<MemoryBudget>(1000);
  struct Case {
    Rejection rejection;
    int status;
    std::string_view says;
  };
  for (const Case& c : {Case{Rejection::kConnectionLimit, 503, "too many connections"},
                        Case{Rejection::kMemoryBudget, 503, "memory budget"},
                        Case{Rejection::kHeaderTooLarge, 431, "request header exceeds"},
                        Case{Rejection::kChunkExtensionTooLarge, 400, "chunk extensions exceed"},
                        Case{Rejection::kTrailerTooLarge, 431, "trailer fields exceed"},
                        Case{Rejection::kBodyTooLarge, 413, "request body exceeds"},
                        Case{Rejection::kMalformed, 400, "malformed HTTP request"},
                        Case{Rejection::kHeaderTimeout, 408, "header"},
                        Case{Rejection::kBodyTimeout, 408, "body"}}) {
    HttpResponse response = RejectionResponse(c.rejection, options);
    EXPECT_EQ(response.status, c.status) << RejectionName(c.rejection);
    EXPECT_THAT(response.body, HasSubstr(std::string(c.says)));
    EXPECT_EQ(response.content_type, "application/json");
    const bool retry = c.status == 503;
    bool has_retry_after = false;
    for (const auto& [name, value] : response.headers) has_retry_after |= name == "Retry-After";
    EXPECT_EQ(has_retry_after, retry) << RejectionName(c.rejection);
  }
  EXPECT_STREQ(RejectionName(Rejection::kMemoryBudget), "memory_budget");
}

// Valid UTF-8 according to RFC 3629 (what a strict JSON parser demands).
bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3
               : c >= 0xf0 && c <= 0xf4             ? 4
                                                    : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    const auto c1 = static_cast<unsigned char>(s[i + (n > 1 ? 1 : 0)]);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
        (c == 0xf4 && c1 >= 0x90)) {
      return false;
    }
    i += n;
  }
  return true;
}

TEST(JsonErrorUtf8Test, InvalidBytesAreReplaced) {
  EXPECT_EQ(JsonError("bad \xff byte"), R"({"error":"bad \ufffd byte"})");
  EXPECT_EQ(JsonError("\xc3"), R"({"error":"\ufffd"})");              // truncated sequence
  EXPECT_EQ(JsonError("\xc0\xaf"), R"({"error":"\ufffd\ufffd"})");    // overlong '/'
  EXPECT_EQ(JsonError("\xed\xa0\x80"), R"({"error":"\ufffd\ufffd\ufffd"})");  // surrogate
  EXPECT_EQ(JsonError("\xf4\x90\x80\x80"), R"({"error":"\ufffd\ufffd\ufffd\ufffd"})");
  EXPECT_EQ(JsonError("\xe2\x82\xac \xf0\x9f\x98\x80"),
            "{\"error\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}");  // valid multi-byte kept
}

TEST(JsonErrorUtf8Test, EveryByteValueGivesValidJsonUtf8) {
  // Every single byte, and every pair, in a message: the body stays valid UTF-8 and has no raw
  // control bytes.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += (a < 0x80 ? 17 : 1)) {
      const std::string message = {'x', static_cast<char>(a), static_cast<char>(b), '"'};
      const std::string body = JsonError(message);
      ASSERT_TRUE(ValidUtf8(body)) << a << " " << b;
      for (char c : body) ASSERT_GE(static_cast<unsigned char>(c), 0x20) << a << " " << b;
      ASSERT_EQ(body.substr(body.size() - 2), "\"}");
    }
  }
}

TEST(JsonErrorUtf8Test, LongMessagesAreCutOnACharacterBoundary) {
  std::string message(kMaxErrorMessageBytes - 1, 'a');
  message.append("\xe2\x82\xac");  // a 3-byte character across the cut
  message.append(1000, 'b');
  const std::string body = JsonError(message);
  EXPECT_TRUE(ValidUtf8(body));
  EXPECT_LE(body.size(), kMaxErrorMessageBytes + 20);
  EXPECT_EQ(body.substr(body.size() - 5), "...\"}");
  EXPECT_EQ(body.find("\\ufffd"), std::string::npos);
}

}  // namespace
}  // namespace ptserve::http
