// HTTP request and response values, and the Responder through which a handler answers.
//
// These are the only types an application handler sees:
//
//   void Ready(HttpRequest& request, std::shared_ptr<Responder> responder) {
//     responder->Send({.status = 200, .body = R"({"ready":true})"});
//   }
//
// Nothing here knows about sockets; the server (http_server.h) implements Responder.
#ifndef PTSERVE_SERVER_HTTP_HTTP_MESSAGE_H_
#define PTSERVE_SERVER_HTTP_HTTP_MESSAGE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace ptserve::http {

// One parsed HTTP/1.x request. Filled by the server, then by the router (path_params).
// A handler receives it by reference and may move fields out of it (the body especially);
// the reference is valid only for the duration of the handler call: copy or move what an
// asynchronous handler needs later.
struct HttpRequest {
  std::string method;  // as received, e.g. "GET", "POST" (case-sensitive, as RFC 9110 says)
  std::string target;  // request-target as received: path plus optional "?query"
  std::string path;    // target before the first '?', NOT percent-decoded
  std::string query;   // target after the first '?' (without it), NOT decoded; may be empty
  int version = 11;    // 10 for HTTP/1.0, 11 for HTTP/1.1
  // Header fields; names lower-cased. A repeated field's values are joined with ", ".
  absl::flat_hash_map<std::string, std::string> headers;
  // The complete body (Content-Length or chunked, already de-chunked). Never null; shared so
  // that zero-copy consumers (tensor views) can keep it alive past the handler.
  std::shared_ptr<const std::string> body;
  // {name} parameters of the matched route, percent-decoded, in pattern order. Set by Router.
  std::vector<std::pair<std::string, std::string>> path_params;
  // Peer IP address (no port), e.g. "127.0.0.1" or "::1".
  std::string remote_address;

  // Value of header `lower_name` (which must be lower case), or "" when absent.
  std::string_view Header(std::string_view lower_name) const;
  // Value of path parameter `name`, or "" when the route has no such parameter.
  std::string_view Param(std::string_view name) const;
  // Empties every field, keeping allocated capacity for reuse.
  void Clear();
};

// A response to send. `Content-Length`, `Server` and `Connection` are added by the server; do
// not put them in `headers`. Header names or values containing CR or LF are dropped.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";  // empty: no Content-Type header
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// {"error":"<message, escaped>"}: the one place error bodies are built, so every error body is
// valid JSON and UTF-8 even when the message quotes request bytes (core/json_string.h; a byte
// that is not well-formed UTF-8 becomes \ufffd). A message longer than
// kMaxErrorMessageBytes is cut there and ends with "...".
inline constexpr size_t kMaxErrorMessageBytes = 4096;
std::string JsonError(std::string_view message);

// A response with `status` and body JsonError(message).
HttpResponse ErrorResponse(int status, std::string_view message);

// The way back to the client for one request. A handler receives a std::shared_ptr to it and
// may answer at once or keep it and answer later from any thread (e.g. an inference
// completion callback). Implementations are thread-safe.
class Responder {
 public:
  virtual ~Responder() = default;

  // Sends the response. Callable from any thread; only the first call counts, later calls are
  // ignored. Never blocks; the write happens on the connection's network thread. If the
  // Responder is destroyed without Send having been called, the server answers
  // 500 {"error":"internal error: no response"}, so a request is never left hanging.
  // If the client has gone away (disconnected()) the response is dropped.
  virtual void Send(HttpResponse response) = 0;

  // True once the server noticed that the client closed its connection while this request
  // was unanswered (or the server force-closed it). Any thread. Good for skipping work.
  // Detection: while a request is unanswered the server watches the socket; end-of-stream or
  // an error there means the client is gone (so a client that half-closes its sending side
  // after the request also counts as gone); bytes of a pipelined request end the watch.
  virtual bool disconnected() const = 0;

  // Registers `callback` to run once, on the connection's network thread, when the client
  // disconnects (or the connection is force-closed) before the response was sent. It never
  // runs after Send. If the disconnect already happened, it runs soon (posted, not inline).
  // Callable from any thread; the callback must not block.
  virtual void OnDisconnect(std::function<void()> callback) = 0;
};

}  // namespace ptserve::http

#endif  // PTSERVE_SERVER_HTTP_HTTP_MESSAGE_H_
