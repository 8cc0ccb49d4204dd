// Small, fast JSON writing helpers: string escaping (core/json_string.h) and
// number formatting, appending to one std::string. Used by every codec and by the server for
// error bodies.
//
//   std::string out = "{\"name\":";
//   AppendJsonString(&out, "a\"b");     // {"name":"a\"b"
//   out += ",\"x\":";
//   AppendJsonFloat(&out, 0.1f);        // ..."x":0.1
//   JsonErrorBody("bad input")          // {"error":"bad input"}
//
// Contract:
// - Output is always valid JSON (RFC 8259), whatever the input.
// - Strings: see core/json_string.h (control characters and DEL escaped,
//   well-formed UTF-8 unchanged, other bytes as \u00XX, i.e. read as Latin-1:
//   the JSON stays valid but such bytes do not round-trip exactly; ask for
//   binary output for that).
// - Numbers: integers exactly; floats and doubles in the shortest form that
//   reads back to the same value (std::to_chars). NaN and infinities, which
//   JSON cannot represent as numbers, are written as the strings "NaN",
//   "Infinity" and "-Infinity" (what JavaScript's Number() and Python's
//   float() accept); the KServe decoder accepts these strings for FP types.
// - All functions are thread-safe (no shared state).
#ifndef PTSERVE_PROTOCOL_JSON_WRITER_H_
#define PTSERVE_PROTOCOL_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_string.h"  // AppendJsonString

namespace ptserve {

void AppendJsonInt(std::string* out, int64_t value);
void AppendJsonUint(std::string* out, uint64_t value);
void AppendJsonBool(std::string* out, bool value);
// Shortest round-trip form; non-finite values as "NaN"/"Infinity"/"-Infinity".
void AppendJsonFloat(std::string* out, float value);
void AppendJsonDouble(std::string* out, double value);

// {"error":"<escaped message>"}
std::string JsonErrorBody(std::string_view message);

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_JSON_WRITER_H_
