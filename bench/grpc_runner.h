// Closed-loop load over gRPC (KServe v2 ModelInfer), for `ptserve-bench -i grpc`.
//
//   GrpcRunner::Options o;  o.target = "localhost:8001";  o.request = ModelInferRequest(...);
//   ASSIGN_OR_RETURN(auto runner, GrpcRunner::Create(o));
//   ASSIGN_OR_RETURN(StepResult r, runner->RunStep(StepConfig::Closed(16)));
//
// `concurrency` calls are in flight at all times on one channel (HTTP/2 multiplexes them): each
// sends its next request as soon as its answer arrives (gRPC's completion-queue API, one thread;
// no thread per call). A step runs `warmup_ms` unmeasured, then one window of
// `measurement_interval_ms` (or exactly `requests` requests). Server queue/compute times and batch
// sizes come from the response parameters ptserve sets (queue_time_us, compute_time_us,
// batch_size). Open loop is not supported over gRPC yet. RunStep() blocks.
#ifndef PTSERVE_BENCH_GRPC_RUNNER_H_
#define PTSERVE_BENCH_GRPC_RUNNER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "protocol/grpc_service.pb.h"
#include "runner.h"
#include "workload.h"

namespace ptserve::bench {

// The model's inputs, from ModelMetadata over gRPC.
absl::StatusOr<ModelMetadata> FetchGrpcModelMetadata(const std::string& target,
                                                     const std::string& model_name,
                                                     const std::string& model_version);

// A ModelInferRequest carrying `inputs` as raw_input_contents.
inference::ModelInferRequest BuildGrpcRequest(const std::vector<InputTensor>& inputs,
                                              const std::string& model_name,
                                              const std::string& model_version);

class GrpcRunner {
 public:
  struct Options {
    std::string target;  // host:port
    inference::ModelInferRequest request;
    int64_t warmup_ms = 1000;
    int64_t measurement_interval_ms = 5000;
    int64_t requests = 0;  // > 0: measure exactly this many requests instead
    int64_t timeout_ms = 30000;
    int max_message_bytes = 256 << 20;
  };

  static absl::StatusOr<std::unique_ptr<GrpcRunner>> Create(Options options);
  ~GrpcRunner();
  absl::StatusOr<StepResult> RunStep(const StepConfig& config);

  class Impl;

 private:
  explicit GrpcRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptserve::bench

#endif  // PTSERVE_BENCH_GRPC_RUNNER_H_
