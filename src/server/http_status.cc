#include "server/http_status.h"

namespace ptserve {

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kCancelled: return 499;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

http::HttpResponse ErrorFor(const absl::Status& status) {
  const int code = HttpStatusFor(status);
  http::HttpResponse response =
      http::ErrorResponse(code, std::string_view(status.message().data(), status.message().size()));
  if (code == 503 || code == 429) response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace ptserve
