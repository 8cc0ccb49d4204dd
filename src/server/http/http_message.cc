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

namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` (Unicode 15, table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (byte(i) & 0xc0) == 0x80; };
  const unsigned char c = byte(0);
  if (c < 0x80) return 1;
  if (c < 0xc2 || c > 0xf4) return 0;
  if (c < 0xe0) return cont(1) ? 2 : 0;
  if (!cont(1)) return 0;
  if (c < 0xf0) {
    if ((c == 0xe0 && byte(1) < 0xa0) || (c == 0xed && byte(1) >= 0xa0)) return 0;
    return cont(2) ? 3 : 0;
  }
  if ((c == 0xf0 && byte(1) < 0x90) || (c == 0xf4 && byte(1) >= 0x90)) return 0;
  return cont(2) && cont(3) ? 4 : 0;
}

}  // namespace

void AppendJsonEscaped(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const size_t n = Utf8SequenceLength(text.substr(i));
      if (n == 0) {
        out->append("\\ufffd");  // an invalid byte: U+FFFD REPLACEMENT CHARACTER
        ++i;
      } else {
        out->append(text.data() + i, n);
        i += n;
      }
      continue;
    }
    ++i;
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
          out->push_back(c);
        }
    }
  }
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
  out.append(R"({"error":")");
  AppendJsonEscaped(message, &out);
  if (cut) out.append("...");
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
