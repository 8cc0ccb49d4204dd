// Per model version statistics (Triton's ModelStatistics), protocol-neutral;
// encoded for gRPC by protocol/grpc_codec.h.
#ifndef PTSERVE_PROTOCOL_MODEL_STATISTICS_H_
#define PTSERVE_PROTOCOL_MODEL_STATISTICS_H_

#include <cstdint>
#include <string>

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
};

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_MODEL_STATISTICS_H_
