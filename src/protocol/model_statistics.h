// Per model version statistics (Triton's ModelStatistics), protocol-neutral;
// encoded for gRPC by protocol/grpc_codec.h and for HTTP (Triton's statistics
// extension, GET /v2/models[/{m}[/versions/{v}]]/stats) by ModelStatisticsJson.
#ifndef PTSERVE_PROTOCOL_MODEL_STATISTICS_H_
#define PTSERVE_PROTOCOL_MODEL_STATISTICS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ptserve {

struct ModelStatistics {
  std::string name;
  std::string version;
  uint64_t last_inference_ms = 0;              // since the epoch; 0 = none yet
  uint64_t inference_count = 0;                // batch rows of successful requests
  uint64_t success_count = 0, success_ns = 0;  // request duration, arrival to answer
  uint64_t failure_count = 0, failure_ns = 0;
  uint64_t queue_ns = 0;    // of successful requests
  uint64_t compute_ns = 0;  // of successful requests (their batches' execution)
  // Batches run by the loaded version (since it loaded), and the successful ones by size.
  uint64_t execution_count = 0;
  struct Batch {
    int64_t batch_size = 0;
    uint64_t count = 0, compute_ns = 0;
  };
  std::vector<Batch> batch_stats;  // ascending batch_size
};

// {"model_stats":[{"name","version","last_inference","inference_count","execution_count",
// "inference_stats":{"success","fail","queue","compute_infer": {"count","ns"}},
// "batch_stats":[{"batch_size","compute_infer":{"count","ns"}}]}]} — Triton's shape, with the
// parts ptserve does not measure left out (compute_input/compute_output: the execution is timed
// as one span; cache_hit/cache_miss: no response cache).
std::string ModelStatisticsJson(const std::vector<ModelStatistics>& stats);

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_MODEL_STATISTICS_H_
