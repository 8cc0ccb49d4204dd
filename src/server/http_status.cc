#include "server/http_status.h"

#include "core/status_class.h"

namespace ptserve {

int HttpStatusFor(const absl::Status& status) { return ClassOf(status).http_status; }

http::HttpResponse ErrorFor(const absl::Status& status) {
  const int code = HttpStatusFor(status);
  http::HttpResponse response =
      http::ErrorResponse(code, std::string_view(status.message().data(), status.message().size()));
  if (code == 503 || code == 429) response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace ptserve
