// The one mapping from absl::Status to a gRPC status (STYLE.md: one function
// at the edge), next to the HTTP one (server/http_status.h).
#ifndef PTSERVE_SERVER_GRPC_STATUS_H_
#define PTSERVE_SERVER_GRPC_STATUS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace ptserve {

// Same meaning, same name: InvalidArgument -> INVALID_ARGUMENT, NotFound ->
// NOT_FOUND, Unavailable (queue full, not ready) -> UNAVAILABLE,
// ResourceExhausted -> RESOURCE_EXHAUSTED, DeadlineExceeded (queue timeout) ->
// DEADLINE_EXCEEDED, Cancelled -> CANCELLED, Unimplemented -> UNIMPLEMENTED,
// PermissionDenied, Unauthenticated, FailedPrecondition, OutOfRange,
// AlreadyExists, Aborted, DataLoss, Unknown likewise; everything else ->
// INTERNAL. The message is kept. HTTP answers the same statuses with
// 400/404/503/429/504/499/501/403/401/400/400/400/500.
grpc::StatusCode GrpcCodeFor(const absl::Status& status);
grpc::Status GrpcStatusFor(const absl::Status& status);
// "OK", "INVALID_ARGUMENT", ... (for logs).
std::string GrpcCodeName(const absl::Status& status);

}  // namespace ptserve

#endif  // PTSERVE_SERVER_GRPC_STATUS_H_
