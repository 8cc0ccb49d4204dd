// Parsing JSON request bodies with simdjson (DOM), with error messages that
// say where the JSON is broken. Internal to the protocol codecs.
//
//   ASSIGN_OR_RETURN(simdjson::dom::element root,
//                    ParseJson(body, body.capacity()));
//
// Ownership and threading: each thread has its own parser (thread_local); the
// returned element points into that parser and stays valid only until the
// next ParseJson call on the same thread. Callers convert what they need
// before returning. Safe to call from any number of threads at once. A
// thread's parser keeps buffers of ~(document size x a few) between calls, and
// drops them after documents larger than 16 MiB.
#ifndef PTSERVE_PROTOCOL_JSON_READER_H_
#define PTSERVE_PROTOCOL_JSON_READER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "simdjson.h"

namespace ptserve {

// Parses `json`. `readable` is how many bytes starting at json.data() may be
// read (>= json.size(), e.g. the capacity of the std::string holding it);
// when at least SIMDJSON_PADDING bytes beyond the JSON are readable it is
// parsed in place, otherwise it is copied into the parser's padded buffer.
// Errors are InvalidArgument: "malformed JSON at byte N: <reason>".
absl::StatusOr<simdjson::dom::element> ParseJson(std::string_view json, size_t readable);

// Where `json` first stops being valid JSON (RFC 8259), and why; nullopt when
// it is valid. Used for error messages only (simdjson does not report
// positions); exposed for tests.
struct JsonSyntaxError {
  size_t offset;
  std::string reason;
};
std::optional<JsonSyntaxError> FindJsonSyntaxError(std::string_view json);

// A short JSON rendering of `value` for error messages (at most ~40 chars).
std::string JsonSnippet(simdjson::dom::element value);

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_JSON_READER_H_
