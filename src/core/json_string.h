// JSON string escaping: the one escaper every JSON writer in ptserve uses
// (codecs, error bodies of the HTTP transport, the load generator).
//
//   std::string out = "{\"name\":";
//   AppendJsonString(&out, "a\"b");   // {"name":"a\"b"
//
// `"` and `\` are backslash-escaped; control characters (< 0x20) and DEL are
// written as \n, \t, \r, \b, \f or \u00XX. Well-formed UTF-8 (RFC 3629: no overlongs,
// surrogates or code points above U+10FFFF) passes through unchanged. A byte
// that is not part of a well-formed sequence is written as \u00XX (read as
// Latin-1: tensor data keeps its byte values) or as \ufffd (U+FFFD, for text
// such as error messages), as the caller asks. The output is always valid
// JSON. Thread-safe.
#ifndef PTSERVE_CORE_JSON_STRING_H_
#define PTSERVE_CORE_JSON_STRING_H_

#include <string>
#include <string_view>

namespace ptserve {

enum class InvalidUtf8 {
  kLatin1,       // \u00XX: the byte as a code point
  kReplacement,  // \ufffd
};

// Appends `value` as a quoted, escaped JSON string.
void AppendJsonString(std::string* out, std::string_view value,
                      InvalidUtf8 invalid = InvalidUtf8::kLatin1);

}  // namespace ptserve

#endif  // PTSERVE_CORE_JSON_STRING_H_
