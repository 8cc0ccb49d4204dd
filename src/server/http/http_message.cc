#include "server/http/http_message.h"

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

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

void AppendJsonEscaped(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out->append("\\u00");
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 0xf]);
        } else {
          // Bytes >= 0x80 pass through: the message is expected to be UTF-8.
          out->push_back(c);
        }
    }
  }
}

std::string JsonError(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 14);
  out.append(R"({"error":")");
  AppendJsonEscaped(message, &out);
  out.append("\"}");
  return out;
}

HttpResponse ErrorResponse(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = JsonError(message);
  return response;
}

}  // namespace ptserve::http
