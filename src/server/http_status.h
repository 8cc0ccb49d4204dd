// The one mapping from absl::Status to an HTTP answer (STYLE.md: one
// function at the edge).
#ifndef PTSERVE_SERVER_HTTP_STATUS_H_
#define PTSERVE_SERVER_HTTP_STATUS_H_

#include "absl/status/status.h"
#include "server/http/http_message.h"

namespace ptserve {

// InvalidArgument/FailedPrecondition/OutOfRange -> 400, NotFound -> 404,
// Unavailable -> 503 with Retry-After, ResourceExhausted -> 429 with
// Retry-After, DeadlineExceeded -> 504, Unimplemented -> 501, Cancelled ->
// 499, everything else -> 500. Body {"error": message}.
int HttpStatusFor(const absl::Status& status);
http::HttpResponse ErrorFor(const absl::Status& status);

}  // namespace ptserve

#endif  // PTSERVE_SERVER_HTTP_STATUS_H_
