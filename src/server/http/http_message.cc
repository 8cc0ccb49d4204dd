#include "server/http/http_message.h"

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "core/json_string.h"

namespace ptserve::http {

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  auto it = headers.find(absl::string_view(lower_name.data(), lower_name.size()));
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

std::string_view HttpRequest::Param(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) return value;
  }
  return {};
}

void HttpRequest::Clear() {
  method.clear();
  target.clear();
  path.clear();
  query.clear();
  version = 11;
  headers.clear();
  body.reset();
  path_params.clear();
  remote_address.clear();
}

std::string JsonError(std::string_view message) {
  const bool cut = message.size() > kMaxErrorMessageBytes;
  if (cut) {
    // Back up to a UTF-8 sequence boundary so the cut does not leave a broken character.
    size_t end = kMaxErrorMessageBytes;
    while (end > 0 && (static_cast<unsigned char>(message[end]) & 0xc0) == 0x80) --end;
    message = message.substr(0, end);
  }
  std::string out;
  out.reserve(message.size() + 17);
  out.append(R"({"error":)");
  if (cut) {
    AppendJsonString(&out, std::string(message) + "...", InvalidUtf8::kReplacement);
  } else {
    AppendJsonString(&out, message, InvalidUtf8::kReplacement);
  }
  out.push_back('}');
  return out;
}

HttpResponse ErrorResponse(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = JsonError(message);
  return response;
}

}  // namespace ptserve::http
