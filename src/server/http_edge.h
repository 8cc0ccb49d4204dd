// The HTTP edge's limits as server flags (each with its PTSERVE_<FLAG> environment variable),
// and their wiring: HttpServer::Options, the process-wide memory budget for request bodies and
// the metrics that count what the edge refuses (docs/security.md).
//
//   HttpEdgeFlags edge_flags;
//   AddHttpEdgeFlags(app, edge_flags);
//   ...
//   std::shared_ptr<HttpEdge> edge = ConfigureHttpEdge(edge_flags, metrics, &http_options);
//   // keep `edge` alive while the server runs (the metrics read it)
//
// Metrics: ptserve_http_rejected_total{reason} (counter; reasons as http::RejectionName),
// ptserve_http_inflight_body_bytes and ptserve_http_inflight_body_limit_bytes (gauges).
#ifndef PTSERVE_SERVER_HTTP_EDGE_H_
#define PTSERVE_SERVER_HTTP_EDGE_H_

#include <CLI/CLI.hpp>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "metrics/inference_metrics.h"
#include "server/http/http_server.h"
#include "server/http/memory_budget.h"

namespace ptserve {

struct HttpEdgeFlags {
  size_t max_header_bytes = size_t{64} << 10;
  size_t max_chunk_extension_bytes = 4096;
  size_t max_trailer_bytes = 8192;
  size_t max_connections = 10000;
  int idle_timeout_secs = 60;
  int header_timeout_secs = 10;
  int body_timeout_secs = 60;
  uint64_t min_body_bytes_per_sec = 1024;
  uint64_t max_inflight_bytes = 0;  // 0: a quarter of the container's memory (or the machine's)
};

void AddHttpEdgeFlags(CLI::App& app, HttpEdgeFlags& flags);

// What ConfigureHttpEdge set up.
struct HttpEdge {
  std::shared_ptr<http::MemoryBudget> budget;
  std::array<std::shared_ptr<metrics::Counter>, http::kRejectionCount> rejected;
  std::vector<metrics::Registration> registrations;
};

// Fills the edge limits, the memory budget and the rejection counter into `options`. The
// returned object must outlive the server (and be destroyed before `metrics`).
std::shared_ptr<HttpEdge> ConfigureHttpEdge(const HttpEdgeFlags& flags,
                                            metrics::InferenceMetrics& metrics,
                                            http::HttpServer::Options* options);

}  // namespace ptserve

#endif  // PTSERVE_SERVER_HTTP_EDGE_H_
