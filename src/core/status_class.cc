#include "core/status_class.h"

namespace ptserve {

StatusClass ClassOf(absl::StatusCode code) {
  using C = absl::StatusCode;
  using O = RequestOutcome;
  switch (code) {
    case C::kOk:
      return {O::kSuccess, 200, false};
    case C::kInvalidArgument:
    case C::kFailedPrecondition:
    case C::kOutOfRange:
    case C::kAlreadyExists:
      return {O::kClientError, 400, false};
    case C::kUnauthenticated:
      return {O::kClientError, 401, false};
    case C::kPermissionDenied:
      return {O::kClientError, 403, false};
    case C::kNotFound:
      return {O::kClientError, 404, false};
    case C::kResourceExhausted:
      return {O::kRejected, 429, false};
    case C::kCancelled:
      return {O::kCancelled, 499, false};
    case C::kUnavailable:
      return {O::kRejected, 503, true};
    case C::kDeadlineExceeded:
      return {O::kTimedOut, 504, true};
    case C::kUnimplemented:
      return {O::kServerError, 501, true};
    default:
      return {O::kServerError, 500, true};
  }
}

}  // namespace ptserve
