#include "server/grpc_status.h"

#include "gtest/gtest.h"
#include "server/http_status.h"

namespace ptserve {
namespace {

TEST(GrpcStatusTest, SameMeaningAsHttp) {
  struct Case {
    absl::Status status;
    grpc::StatusCode grpc;
    int http;
  } cases[] = {
      {absl::OkStatus(), grpc::StatusCode::OK, 200},
      {absl::InvalidArgumentError("x"), grpc::StatusCode::INVALID_ARGUMENT, 400},
      {absl::NotFoundError("x"), grpc::StatusCode::NOT_FOUND, 404},
      {absl::UnavailableError("x"), grpc::StatusCode::UNAVAILABLE, 503},
      {absl::ResourceExhaustedError("x"), grpc::StatusCode::RESOURCE_EXHAUSTED, 429},
      {absl::DeadlineExceededError("x"), grpc::StatusCode::DEADLINE_EXCEEDED, 504},
      {absl::CancelledError("x"), grpc::StatusCode::CANCELLED, 499},
      {absl::UnimplementedError("x"), grpc::StatusCode::UNIMPLEMENTED, 501},
      {absl::PermissionDeniedError("x"), grpc::StatusCode::PERMISSION_DENIED, 403},
      {absl::UnauthenticatedError("x"), grpc::StatusCode::UNAUTHENTICATED, 401},
      {absl::InternalError("x"), grpc::StatusCode::INTERNAL, 500},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(GrpcCodeFor(c.status), c.grpc) << c.status;
    EXPECT_EQ(HttpStatusFor(c.status), c.http) << c.status;
  }
  const grpc::Status s = GrpcStatusFor(absl::InvalidArgumentError("input 'x': bad"));
  EXPECT_EQ(s.error_message(), "input 'x': bad");
  EXPECT_EQ(GrpcCodeName(absl::DeadlineExceededError("")), "DEADLINE_EXCEEDED");
}

}  // namespace
}  // namespace ptserve
