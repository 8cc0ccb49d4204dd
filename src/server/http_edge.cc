#include "server/http_edge.h"

#include <chrono>
#include <string>

#include "spdlog/spdlog.h"

namespace ptserve {

void AddHttpEdgeFlags(CLI::App& app, HttpEdgeFlags& f) {
  app.add_option("--max-header-bytes", f.max_header_bytes,
                 "Largest request line plus header fields; larger gets 431")
      ->envname("PTSERVE_MAX_HEADER_BYTES")->capture_default_str()
      ->check(CLI::Range(size_t{256}, size_t{1} << 30));
  app.add_option("--max-chunk-extension-bytes", f.max_chunk_extension_bytes,
                 "Chunked bodies: most bytes of chunk extensions per request; more gets 400")
      ->envname("PTSERVE_MAX_CHUNK_EXTENSION_BYTES")->capture_default_str()
      ->check(CLI::Range(size_t{0}, size_t{1} << 30));
  app.add_option("--max-trailer-bytes", f.max_trailer_bytes,
                 "Chunked bodies: most bytes of trailer fields (read and dropped, never used as "
                 "headers); more gets 431")
      ->envname("PTSERVE_MAX_TRAILER_BYTES")->capture_default_str()
      ->check(CLI::Range(size_t{0}, size_t{1} << 30));
  app.add_option("--max-connections", f.max_connections,
                 "Open HTTP connections at most; more are answered 503 and closed at once")
      ->envname("PTSERVE_MAX_CONNECTIONS")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--http-idle-timeout-secs", f.idle_timeout_secs,
                 "Close a keep-alive connection idle this long (also bounds writing a response "
                 "to a client that does not read)")
      ->envname("PTSERVE_HTTP_IDLE_TIMEOUT_SECS")->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--http-header-timeout-secs", f.header_timeout_secs,
                 "A request's header must arrive within this long of its first byte; else 408")
      ->envname("PTSERVE_HTTP_HEADER_TIMEOUT_SECS")->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--http-body-timeout-secs", f.body_timeout_secs,
                 "A request's body must arrive within this long of its header; else 408")
      ->envname("PTSERVE_HTTP_BODY_TIMEOUT_SECS")->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--http-min-body-bytes-per-sec", f.min_body_bytes_per_sec,
                 "Slowest average body upload accepted after a 5 s grace; slower gets 408 "
                 "(0: no minimum)")
      ->envname("PTSERVE_HTTP_MIN_BODY_BYTES_PER_SEC")->capture_default_str();
  app.add_option("--max-inflight-bytes", f.max_inflight_bytes,
                 "Memory budget for request bodies arriving, queued and being answered, all "
                 "requests together; a body that does not fit gets 503 with Retry-After at once "
                 "(0: a quarter of the container's memory limit, else of the machine's memory)")
      ->envname("PTSERVE_MAX_INFLIGHT_BYTES")->capture_default_str();
}

std::shared_ptr<HttpEdge> ConfigureHttpEdge(const HttpEdgeFlags& flags,
                                            metrics::InferenceMetrics& metrics,
                                            http::HttpServer::Options* options) {
  auto edge = std::make_shared<HttpEdge>();
  const uint64_t budget = flags.max_inflight_bytes > 0 ? flags.max_inflight_bytes
                                                       : http::DefaultInflightBudget();
  edge->budget = std::make_shared<http::MemoryBudget>(budget);
  if (budget < options->max_body_bytes) {
    spdlog::warn("--max-inflight-bytes ({} bytes) is below --max-request-bytes ({} bytes): "
                 "bodies larger than the budget are always refused with 503",
                 budget, options->max_body_bytes);
  }
  options->memory_budget = edge->budget;
  options->max_header_bytes = flags.max_header_bytes;
  options->max_chunk_extension_bytes = flags.max_chunk_extension_bytes;
  options->max_trailer_bytes = flags.max_trailer_bytes;
  options->max_connections = flags.max_connections;
  options->idle_timeout = std::chrono::seconds(flags.idle_timeout_secs);
  options->header_timeout = std::chrono::seconds(flags.header_timeout_secs);
  options->body_timeout = std::chrono::seconds(flags.body_timeout_secs);
  options->min_body_bytes_per_sec = flags.min_body_bytes_per_sec;

  if (metrics::Registry* registry = metrics.registry()) {
    metrics::CounterFamily& rejected = registry->AddCounter(
        "ptserve_http_rejected_total",
        "Connections and requests refused by the HTTP edge before any handler ran, by reason.",
        {"reason"});
    for (int i = 0; i < http::kRejectionCount; ++i) {
      edge->rejected[i] =
          rejected.WithLabels({http::RejectionName(static_cast<http::Rejection>(i))});
    }
    // The counters are kept alive by the callback itself (it may outlive `edge`).
    options->on_rejected = [counters = edge->rejected](http::Rejection rejection) {
      counters[static_cast<int>(rejection)]->Increment();
    };
    edge->registrations.push_back(
        registry
            ->AddGauge("ptserve_http_inflight_body_bytes",
                       "Bytes of request bodies held now (arriving, queued or being answered).")
            .AddCallback({}, [b = edge->budget] { return static_cast<double>(b->used()); }));
    edge->registrations.push_back(
        registry
            ->AddGauge("ptserve_http_inflight_body_limit_bytes",
                       "The memory budget for request bodies (--max-inflight-bytes).")
            .AddCallback({}, [b = edge->budget] { return static_cast<double>(b->limit()); }));
  }
  spdlog::info("HTTP edge: bodies budget {} MiB, max {} connections, header {} B in {} s, body "
               "in {} s at >= {} B/s", budget >> 20, flags.max_connections, flags.max_header_bytes,
               flags.header_timeout_secs, flags.body_timeout_secs, flags.min_body_bytes_per_sec);
  return edge;
}

}  // namespace ptserve
