#include "protocol/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace ptserve {
namespace {

template <typename T>
void AppendNumber(std::string* out, T value) {
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, result.ptr);
}

template <typename T>
void AppendFloating(std::string* out, T value) {
  if (value == 0 && std::signbit(value)) {
    out->append("-0.0");  // "-0" would read back as the integer 0
  } else if (std::isfinite(value)) {
    AppendNumber(out, value);
  } else if (std::isnan(value)) {
    out->append("\"NaN\"");
  } else {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  }
}

}  // namespace

void AppendJsonInt(std::string* out, int64_t value) { AppendNumber(out, value); }
void AppendJsonUint(std::string* out, uint64_t value) { AppendNumber(out, value); }
void AppendJsonBool(std::string* out, bool value) { out->append(value ? "true" : "false"); }
void AppendJsonFloat(std::string* out, float value) { AppendFloating(out, value); }
void AppendJsonDouble(std::string* out, double value) { AppendFloating(out, value); }

std::string JsonErrorBody(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 14);
  out.append("{\"error\":");
  AppendJsonString(&out, message);
  out.push_back('}');
  return out;
}

}  // namespace ptserve
