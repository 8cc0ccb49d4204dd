#include "core/json_string.h"

#include <cstdint>

namespace ptserve {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Lookup: 0 = copy as is, 1 = needs escaping, 2 = first byte of a possible
// multi-byte UTF-8 sequence (validated separately), 3 = byte that can never
// start a valid sequence.
constexpr uint8_t ByteClass(unsigned char c) {
  if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') return 1;
  if (c < 0x80) return 0;
  if (c >= 0xc2 && c <= 0xf4) return 2;
  return 3;
}

struct ByteClassTable {
  uint8_t v[256];
  constexpr ByteClassTable() : v() {
    for (int i = 0; i < 256; ++i) v[i] = ByteClass(static_cast<unsigned char>(i));
  }
};
constexpr ByteClassTable kClass;

// Length of the well-formed UTF-8 sequence starting at s[0] (a lead byte
// 0xC2..0xF4), or 0 when it is not well formed (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  auto cont = [&](size_t i) { return i < n && (s[i] & 0xc0) == 0x80; };
  if (c < 0xe0) return cont(1) ? 2 : 0;
  if (c < 0xf0) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && s[1] < 0xa0) return 0;   // overlong
    if (c == 0xed && s[1] >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (!cont(1) || !cont(2) || !cont(3)) return 0;
  if (c == 0xf0 && s[1] < 0x90) return 0;   // overlong
  if (c == 0xf4 && s[1] >= 0x90) return 0;  // > U+10FFFF
  return 4;
}

void AppendEscapedByte(std::string* out, unsigned char c) {
  switch (c) {
    case '"':
      out->append("\\\"");
      return;
    case '\\':
      out->append("\\\\");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\t':
      out->append("\\t");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\b':
      out->append("\\b");
      return;
    case '\f':
      out->append("\\f");
      return;
    default: {
      const char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out->append(buf, 6);
    }
  }
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view value, InvalidUtf8 invalid) {
  const auto* s = reinterpret_cast<const unsigned char*>(value.data());
  const size_t n = value.size();
  out->reserve(out->size() + n + 2);
  out->push_back('"');
  size_t run_start = 0;
  size_t i = 0;
  while (i < n) {
    const uint8_t cls = kClass.v[s[i]];
    if (cls == 0) {
      ++i;
      continue;
    }
    if (cls == 2) {
      const size_t len = Utf8SequenceLength(s + i, n - i);
      if (len != 0) {
        i += len;
        continue;
      }
    }
    out->append(value.data() + run_start, i - run_start);
    if (cls != 1 && invalid == InvalidUtf8::kReplacement) {
      out->append("\\ufffd");
    } else {
      AppendEscapedByte(out, s[i]);
    }
    ++i;
    run_start = i;
  }
  out->append(value.data() + run_start, n - run_start);
  out->push_back('"');
}

}  // namespace ptserve
