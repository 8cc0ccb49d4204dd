// grpc.health.v1.Health for ptserve's gRPC port (Kubernetes gRPC probes, Envoy, grpc-health-probe).
//
// Services: "" and "live" are SERVING while the process answers; "ready" and
// "inference.GRPCInferenceService" are SERVING when InferenceService::Ready() is (every model
// that should serve does, and no shutdown has begun), else NOT_SERVING.
//  - Check answers once; an unknown service name is NOT_FOUND.
//  - Watch sends the status at once, then every change (readiness is re-read every
//    watch_period) until the client cancels or Stop(); an unknown service name is
//    SERVICE_UNKNOWN and stays watched, as the protocol says.
//
// Thread-safe. Stop() before the gRPC server's Shutdown: open watches end at once (UNAVAILABLE)
// instead of holding the shutdown until its deadline.
#ifndef PTSERVE_SERVER_GRPC_HEALTH_H_
#define PTSERVE_SERVER_GRPC_HEALTH_H_

#include <chrono>
#include <condition_variable>
#include <mutex>  // std::recursive_mutex
#include <set>
#include <string>
#include <thread>

#include "protocol/health.grpc.pb.h"
#include "serving/inference_service.h"

namespace ptserve {

class GrpcHealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  // `service` must outlive this.
  explicit GrpcHealthService(InferenceService* service, std::chrono::milliseconds watch_period =
                                                            std::chrono::milliseconds(500));
  ~GrpcHealthService() override;  // Stop()s

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

  // Ends open watches and refuses new ones (UNAVAILABLE). Idempotent.
  void Stop();

  class WatchReactor;

 private:
  // The status of `name`; SERVICE_UNKNOWN for an unknown name.
  grpc::health::v1::HealthCheckResponse::ServingStatus StatusOf(const std::string& name) const;
  void Tick();  // the watch thread
  void Forget(WatchReactor* reactor);

  InferenceService* const service_;
  const std::chrono::milliseconds watch_period_;
  // Recursive: a reactor's OnDone (which takes it) may run inside a Finish started under it.
  std::recursive_mutex mu_;
  std::condition_variable_any wake_;
  std::set<WatchReactor*> watches_;  // guarded by mu_; open watches
  bool stopped_ = false;             // guarded by mu_
  std::thread ticker_;
};

}  // namespace ptserve

#endif  // PTSERVE_SERVER_GRPC_HEALTH_H_
