#include "server/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

#include "protocol/json_writer.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace {

// %* : the message, escaped for a JSON string.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string escaped;
    AppendJsonString(&escaped, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>();
  }
};

std::unique_ptr<spdlog::formatter> Formatter(bool json, const char* kind) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (json) {
    formatter->add_flag<EscapedMessage>('*').set_pattern(
        std::string(R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","log":")") + kind +
        R"(","message":%*})");
  } else {
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
  return formatter;
}

}  // namespace

void SetUpLogging(const LoggingOptions& options) {
  auto events = spdlog::stderr_logger_mt("ptserve");
  events->set_formatter(Formatter(options.json, "event"));
  events->set_level(options.verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(events);
  auto access = spdlog::stdout_logger_mt("access");
  access->set_formatter(Formatter(options.json, "access"));
  access->set_level(spdlog::level::info);
}

std::string RequestId(std::string_view from_client) {
  if (!from_client.empty() && from_client.size() <= 128) {
    bool printable = true;
    for (char c : from_client) printable &= c > 0x20 && c < 0x7f && c != '"' && c != '\\';
    if (printable) return std::string(from_client);
  }
  static const uint64_t prefix = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  static std::atomic<uint64_t> counter{0};
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%016llx-%llx", static_cast<unsigned long long>(prefix),
                static_cast<unsigned long long>(counter.fetch_add(1, std::memory_order_relaxed)));
  return buffer;
}

}  // namespace ptserve
