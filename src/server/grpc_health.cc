#include "server/grpc_health.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"

namespace ptserve {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch call. Writes happen one at a time: a change seen while a write is in flight is
// written by a later tick. Finish waits for the write in flight.
class GrpcHealthService::WatchReactor final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  WatchReactor(GrpcHealthService* health, std::string name)
      : health_(health), name_(std::move(name)) {}

  // Writes the status when it differs from the last one written. Under health_->mu_ (which
  // keeps this reactor alive: OnDone takes it).
  void Update() {
    const HealthCheckResponse::ServingStatus status = health_->StatusOf(name_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finishing_ || writing_ || (sent_ && status == last_)) return;
      writing_ = true;
      sent_ = true;
      last_ = status;
      response_.set_status(status);
    }
    StartWrite(&response_);
  }

  // Ends the call with `status` (after the write in flight, if any). Under health_->mu_.
  void End(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finishing_) return;
      finishing_ = true;
      if (writing_) {
        deferred_ = status;
        return;
      }
    }
    Finish(status);
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok && !finishing_) {  // the client has gone
        finishing_ = true;
        finish = grpc::Status::CANCELLED;
      } else if (deferred_) {
        finish = std::move(deferred_);
        deferred_.reset();
      }
    }
    if (finish) Finish(*finish);
  }

  void OnCancel() override {
    std::lock_guard<std::recursive_mutex> lock(health_->mu_);
    End(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    health_->Forget(this);
    delete this;
  }

 private:
  GrpcHealthService* const health_;
  const std::string name_;
  HealthCheckResponse response_;  // being written
  std::mutex mu_;
  bool writing_ = false, sent_ = false, finishing_ = false;                 // guarded by mu_
  HealthCheckResponse::ServingStatus last_ = HealthCheckResponse::UNKNOWN;  // guarded by mu_
  std::optional<grpc::Status> deferred_;  // guarded by mu_: Finish once the write is done
};

namespace {

class Refused final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  explicit Refused(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

GrpcHealthService::GrpcHealthService(InferenceService* service,
                                     std::chrono::milliseconds watch_period)
    : service_(service), watch_period_(watch_period), ticker_([this] { Tick(); }) {}

GrpcHealthService::~GrpcHealthService() {
  Stop();
  ticker_.join();
}

HealthCheckResponse::ServingStatus GrpcHealthService::StatusOf(const std::string& name) const {
  if (name.empty() || name == "live") return HealthCheckResponse::SERVING;
  if (name == "ready" || name == "inference.GRPCInferenceService") {
    return service_->Ready().ok() ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  }
  return HealthCheckResponse::SERVICE_UNKNOWN;
}

grpc::ServerUnaryReactor* GrpcHealthService::Check(grpc::CallbackServerContext* context,
                                                   const HealthCheckRequest* request,
                                                   HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const HealthCheckResponse::ServingStatus status = StatusOf(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(GrpcStatusFor(absl::NotFoundError(
        absl::StrCat("unknown service '", request->service().substr(0, 64),
                     "' (valid: \"\", live, ready, inference.GRPCInferenceService)"))));
    return reactor;
  }
  response->set_status(status);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* GrpcHealthService::Watch(
    grpc::CallbackServerContext*, const HealthCheckRequest* request) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (stopped_) {
    return new Refused(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }
  auto* reactor = new WatchReactor(this, request->service().substr(0, 256));
  watches_.insert(reactor);
  reactor->Update();  // the current status, at once
  return reactor;
}

void GrpcHealthService::Forget(WatchReactor* reactor) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  watches_.erase(reactor);
}

void GrpcHealthService::Stop() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (stopped_) return;
  stopped_ = true;
  wake_.notify_all();
  // A copy: a reactor's OnDone may run inside its Finish and erase itself.
  const std::vector<WatchReactor*> watches(watches_.begin(), watches_.end());
  for (WatchReactor* reactor : watches) {
    if (watches_.count(reactor) > 0) {
      reactor->Update();  // the last status (NOT_SERVING for readiness by now), then the end
      reactor->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    }
  }
}

void GrpcHealthService::Tick() {
  std::unique_lock<std::recursive_mutex> lock(mu_);
  while (!stopped_) {
    wake_.wait_for(lock, watch_period_);
    if (stopped_) break;
    const std::vector<WatchReactor*> watches(watches_.begin(), watches_.end());
    for (WatchReactor* reactor : watches) {
      if (watches_.count(reactor) > 0) reactor->Update();
    }
  }
}

}  // namespace ptserve
