// How ptserve answers a Status, in one table: the request's outcome (the metrics label), the HTTP
// status, and whether it counts as the server's failure (request statistics, error logs). gRPC
// needs no table: absl::StatusCode values are gRPC's canonical codes (server/grpc_status.cc).
//
//   code                 outcome        HTTP  server's failure
//   OK                   success        200   no
//   INVALID_ARGUMENT     client_error   400   no
//   FAILED_PRECONDITION  client_error   400   no
//   OUT_OF_RANGE         client_error   400   no
//   ALREADY_EXISTS       client_error   400   no
//   UNAUTHENTICATED      client_error   401   no
//   PERMISSION_DENIED    client_error   403   no
//   NOT_FOUND            client_error   404   no
//   RESOURCE_EXHAUSTED   rejected       429   no   (a request too large for a limit)
//   CANCELLED            cancelled      499   no   (the client went away)
//   UNAVAILABLE          rejected       503   yes  (queue full, shutting down, memory budget)
//   DEADLINE_EXCEEDED    timed_out      504   yes
//   UNIMPLEMENTED        server_error   501   yes
//   anything else        server_error   500   yes  (INTERNAL, UNKNOWN, ABORTED, DATA_LOSS)
#ifndef PTSERVE_CORE_STATUS_CLASS_H_
#define PTSERVE_CORE_STATUS_CLASS_H_

#include "absl/status/status.h"

namespace ptserve {

enum class RequestOutcome {
  kSuccess,
  kClientError,
  kServerError,
  kRejected,
  kTimedOut,
  kCancelled
};

struct StatusClass {
  RequestOutcome outcome;
  int http_status;
  bool server_failure;
};

StatusClass ClassOf(absl::StatusCode code);
inline StatusClass ClassOf(const absl::Status& status) { return ClassOf(status.code()); }

}  // namespace ptserve

#endif  // PTSERVE_CORE_STATUS_CLASS_H_
