#include "server/grpc_status.h"

namespace ptserve {

grpc::StatusCode GrpcCodeFor(const absl::Status& status) {
  // absl::StatusCode's values are gRPC's canonical codes (0 OK ... 16 UNAUTHENTICATED).
  const int code = static_cast<int>(status.code());
  return code >= 0 && code <= static_cast<int>(absl::StatusCode::kUnauthenticated)
             ? static_cast<grpc::StatusCode>(code)
             : grpc::StatusCode::INTERNAL;
}

grpc::Status GrpcStatusFor(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(GrpcCodeFor(status), std::string(status.message()));
}

std::string GrpcCodeName(const absl::Status& status) {
  // The same names as gRPC's ("INVALID_ARGUMENT", ...).
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(GrpcCodeFor(status)));
}

}  // namespace ptserve
