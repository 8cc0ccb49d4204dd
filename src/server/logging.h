// Logging set-up: spdlog for events ("ptserve" logger) and, when asked for,
// one access-log line per inference request ("access" logger). With
// --log-format json every line is one JSON object (message text escaped).
#ifndef PTSERVE_SERVER_LOGGING_H_
#define PTSERVE_SERVER_LOGGING_H_

#include <string>

namespace ptserve {

struct LoggingOptions {
  bool json = false;
  bool verbose = false;  // debug level
};

void SetUpLogging(const LoggingOptions& options);

// A request id: the client's X-Request-ID when it sent a usable one (printable, at most 128
// bytes), else a new unique id.
std::string RequestId(std::string_view from_client);

}  // namespace ptserve

#endif  // PTSERVE_SERVER_LOGGING_H_
