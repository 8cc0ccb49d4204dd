#include "core/status_class.h"

#include "gtest/gtest.h"

namespace ptserve {
namespace {

using C = absl::StatusCode;
using O = RequestOutcome;

TEST(StatusClassTest, TheTable) {
  struct Row {
    C code;
    O outcome;
    int http;
    bool server_failure;
  } rows[] = {
      {C::kOk, O::kSuccess, 200, false},
      {C::kInvalidArgument, O::kClientError, 400, false},
      {C::kFailedPrecondition, O::kClientError, 400, false},
      {C::kOutOfRange, O::kClientError, 400, false},
      {C::kAlreadyExists, O::kClientError, 400, false},
      {C::kUnauthenticated, O::kClientError, 401, false},
      {C::kPermissionDenied, O::kClientError, 403, false},
      {C::kNotFound, O::kClientError, 404, false},
      {C::kResourceExhausted, O::kRejected, 429, false},
      {C::kCancelled, O::kCancelled, 499, false},
      {C::kUnavailable, O::kRejected, 503, true},
      {C::kDeadlineExceeded, O::kTimedOut, 504, true},
      {C::kUnimplemented, O::kServerError, 501, true},
      {C::kInternal, O::kServerError, 500, true},
      {C::kUnknown, O::kServerError, 500, true},
      {C::kAborted, O::kServerError, 500, true},
      {C::kDataLoss, O::kServerError, 500, true},
      {static_cast<C>(99), O::kServerError, 500, true},
  };
  for (const Row& row : rows) {
    const StatusClass c = ClassOf(row.code);
    EXPECT_EQ(c.outcome, row.outcome) << absl::StatusCodeToString(row.code);
    EXPECT_EQ(c.http_status, row.http) << absl::StatusCodeToString(row.code);
    EXPECT_EQ(c.server_failure, row.server_failure) << absl::StatusCodeToString(row.code);
  }
}

TEST(StatusClassTest, ClientFaultsAreNeverFiveHundreds) {
  for (int code = 0; code <= 20; ++code) {
    const StatusClass c = ClassOf(static_cast<C>(code));
    if (c.outcome == O::kClientError) {
      EXPECT_LT(c.http_status, 500) << code;
    }
    if (c.http_status >= 500) {
      EXPECT_TRUE(c.server_failure) << code;
    }
    EXPECT_EQ(c.outcome == O::kSuccess, code == 0) << code;
  }
}

}  // namespace
}  // namespace ptserve
