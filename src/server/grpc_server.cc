#include "server/grpc_server.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/status_macros.h"
#include "core/work_queue.h"
#include "protocol/grpc_codec.h"
#include "protocol/grpc_service.grpc.pb.h"
#include "server/grpc_health.h"
#include "server/grpc_status.h"
#include "server/http/tls_context.h"
#include "server/logging.h"
#include "server/management_api.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

std::string Lookup(const grpc::ServerContextBase& context, std::string_view name) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(name.data(), name.size()));
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

HeaderLookup Headers(const grpc::ServerContextBase& context) {
  return [&context](std::string_view name) { return Lookup(context, name); };
}

ServerUnaryReactor* Answer(CallbackServerContext* context, const absl::Status& status) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(GrpcStatusFor(status));
  return reactor;
}

// The remaining time of the call's deadline in µs; nullopt when it has none.
std::optional<int64_t> DeadlineUs(const grpc::ServerContextBase& context) {
  const auto deadline = context.deadline();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return std::nullopt;
  }
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      deadline - std::chrono::system_clock::now());
  return std::max<int64_t>(0, left.count());
}

// The per-request queue timeout: parameters.timeout, else x-timeout-us, else the deadline.
absl::Status ApplyTimeout(const grpc::ServerContextBase& context, InferenceRequest& request) {
  if (request.timeout_us) return absl::OkStatus();
  absl::StatusOr<std::optional<int64_t>> header =
      ParseTimeoutHeader(Lookup(context, "x-timeout-us"));
  if (!header.ok()) return header.status();
  if (*header) {
    request.timeout_us = *header;
  } else {
    request.timeout_us = DeadlineUs(context);
  }
  return absl::OkStatus();
}

bool LoopbackPeer(const std::string& peer) {
  return absl::StartsWith(peer, "ipv4:127.") || absl::StartsWith(peer, "ipv6:[::1]") ||
         absl::StartsWith(peer, "ipv6:%5B::1%5D") || absl::StartsWith(peer, "ipv6:[::ffff:127.") ||
         absl::StartsWith(peer, "unix:");
}

bool Wildcard(const std::string& address) {
  return address == "0.0.0.0" || address == "::" || address == "[::]";
}

}  // namespace

// The KServe service: ModelInfer, the hot path, on gRPC's completion-queue API with our own
// threads (AsyncInferCall below); every other RPC on the callback API. Measured on 2 CPUs with
// the MLP at concurrency 64: the callback API took 2.3 context switches and about 65 µs more
// server CPU per ModelInfer than HTTP (its calls hop between gRPC's own thread pools); a thread
// that polls its completion queue decodes and queues the request itself.
using kserve = inference::GRPCInferenceService;
using ServiceBase = kserve::WithCallbackMethod_ServerLive<kserve::WithCallbackMethod_ServerReady<
    kserve::WithCallbackMethod_ModelReady<kserve::WithCallbackMethod_ServerMetadata<
        kserve::WithCallbackMethod_ModelMetadata<kserve::WithCallbackMethod_ModelStreamInfer<
            kserve::WithCallbackMethod_ModelConfig<kserve::WithCallbackMethod_ModelStatistics<
                kserve::WithCallbackMethod_RepositoryIndex<
                    kserve::WithCallbackMethod_RepositoryModelLoad<
                        kserve::WithCallbackMethod_RepositoryModelUnload<
                            kserve::WithAsyncMethod_ModelInfer<kserve::Service>>>>>>>>>>>>;

class GrpcServer::Impl final : public ServiceBase {
 public:
  Impl(Options options, InferenceService* service)
      : options_(std::move(options)), service_(service) {}
  ~Impl() override {
    background_.Stop();
    // Queues of a server that did not start (StopInferQueues empties them otherwise).
    for (auto& queue : infer_queues_) {
      queue->Shutdown();
      void* tag = nullptr;
      bool ok = false;
      while (queue->Next(&tag, &ok)) {
      }
    }
  }

  const Options& options() const { return options_; }
  InferenceService& service() { return *service_; }

  // KServe v2 ----------------------------------------------------------------
  ServerUnaryReactor* ServerLive(CallbackServerContext* context,
                                 const inference::ServerLiveRequest*,
                                 inference::ServerLiveResponse* response) override {
    response->set_live(true);
    return Answer(context, absl::OkStatus());
  }

  ServerUnaryReactor* ServerReady(CallbackServerContext* context,
                                  const inference::ServerReadyRequest*,
                                  inference::ServerReadyResponse* response) override {
    response->set_ready(service_->Ready().ok());
    return Answer(context, absl::OkStatus());
  }

  ServerUnaryReactor* ModelReady(CallbackServerContext* context,
                                 const inference::ModelReadyRequest* request,
                                 inference::ModelReadyResponse* response) override {
    const absl::Status ready =
        service_->ModelReady(request->name(), request->version(), Headers(*context));
    // Like Triton: an unknown or unready model is `ready: false`, not an error.
    response->set_ready(ready.ok());
    return Answer(context, absl::OkStatus());
  }

  ServerUnaryReactor* ServerMetadata(CallbackServerContext* context,
                                     const inference::ServerMetadataRequest*,
                                     inference::ServerMetadataResponse* response) override {
    EncodeGrpcServerMetadata(service_->Metadata(), response);
    return Answer(context, absl::OkStatus());
  }

  ServerUnaryReactor* ModelMetadata(CallbackServerContext* context,
                                    const inference::ModelMetadataRequest* request,
                                    inference::ModelMetadataResponse* response) override {
    auto metadata = service_->Metadata(request->name(), request->version(), Headers(*context));
    if (metadata.ok()) EncodeGrpcModelMetadata(*metadata, response);
    return Answer(context, metadata.status());
  }

  grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
  ModelStreamInfer(CallbackServerContext* context) override;

  ServerUnaryReactor* ModelConfig(CallbackServerContext* context,
                                  const inference::ModelConfigRequest* request,
                                  inference::ModelConfigResponse* response) override {
    auto version = service_->Version(request->name(), request->version());
    if (version.ok()) response->mutable_config()->CopyFrom((*version)->config());
    return Answer(context, version.status());
  }

  ServerUnaryReactor* ModelStatistics(CallbackServerContext* context,
                                      const inference::ModelStatisticsRequest* request,
                                      inference::ModelStatisticsResponse* response) override {
    auto statistics = service_->Statistics(request->name(), request->version());
    if (statistics.ok()) EncodeGrpcModelStatistics(*statistics, response);
    return Answer(context, statistics.status());
  }

  // Repository ---------------------------------------------------------------
  ServerUnaryReactor* RepositoryIndex(CallbackServerContext* context,
                                      const inference::RepositoryIndexRequest* request,
                                      inference::RepositoryIndexResponse* response) override {
    if (absl::Status allowed = Authorized(*context); !allowed.ok()) return Answer(context, allowed);
    for (const RepositoryIndexEntry& e : service_->repository().Index(request->ready())) {
      auto* model = response->add_models();
      model->set_name(e.name);
      model->set_version(e.version);
      model->set_state(ModelStateName(e.state));
      model->set_reason(e.reason);
    }
    return Answer(context, absl::OkStatus());
  }

  ServerUnaryReactor* RepositoryModelLoad(CallbackServerContext* context,
                                          const inference::RepositoryModelLoadRequest* request,
                                          inference::RepositoryModelLoadResponse*) override {
    if (absl::Status allowed = Authorized(*context); !allowed.ok()) return Answer(context, allowed);
    std::optional<config::ModelConfig> override_config;
    auto it = request->parameters().find("config");
    if (it != request->parameters().end()) {
      const auto& p = it->second;
      if (p.parameter_choice_case() != inference::ModelRepositoryParameter::kStringParam &&
          p.parameter_choice_case() != inference::ModelRepositoryParameter::kBytesParam) {
        return Answer(context, absl::InvalidArgumentError(
                                   "parameters.config must be a string: the model config as JSON"));
      }
      config::ModelConfig config;
      const std::string& json =
          p.parameter_choice_case() == inference::ModelRepositoryParameter::kStringParam
              ? p.string_param()
              : p.bytes_param();
      auto status = google::protobuf::util::JsonStringToMessage(json, &config);
      if (!status.ok()) {
        return Answer(context, absl::InvalidArgumentError(
                                   absl::StrCat("parameters.config is not a valid model config: ",
                                                std::string(status.message()))));
      }
      override_config = std::move(config);
    }
    ServerUnaryReactor* reactor = context->DefaultReactor();
    background_.Post([this, reactor, name = request->model_name(), override_config] {
      absl::Status status = service_->repository().Load(name, override_config);
      if (!status.ok() && status.code() != absl::StatusCode::kNotFound) {
        status = absl::InvalidArgumentError(
            absl::StrCat("failed to load '", name, "': ", status.message()));
      }
      reactor->Finish(GrpcStatusFor(status));
    });
    return reactor;
  }

  ServerUnaryReactor* RepositoryModelUnload(CallbackServerContext* context,
                                            const inference::RepositoryModelUnloadRequest* request,
                                            inference::RepositoryModelUnloadResponse*) override {
    if (absl::Status allowed = Authorized(*context); !allowed.ok()) return Answer(context, allowed);
    ServerUnaryReactor* reactor = context->DefaultReactor();
    background_.Post([this, reactor, name = request->model_name()] {
      reactor->Finish(GrpcStatusFor(service_->repository().Unload(name)));
    });
    return reactor;
  }

 private:
  absl::Status Authorized(const CallbackServerContext& context) const {
    if (!options_.management_enabled) {
      return absl::UnavailableError("the repository API is off (--management-port -1)");
    }
    if (!Wildcard(options_.management_address) && !LoopbackPeer(context.peer())) {
      return absl::PermissionDeniedError(
          "the repository API answers only loopback clients (as the management API, "
          "--management-address)");
    }
    if (!options_.management_token.empty()) {
      const std::string auth = Lookup(context, "authorization");
      constexpr std::string_view kBearer = "Bearer ";
      const bool bearer = auth.size() > kBearer.size() &&
                          absl::EqualsIgnoreCase(absl::string_view(auth.data(), kBearer.size()),
                                                 absl::string_view(kBearer.data(), kBearer.size()));
      if (!bearer ||
          !SameSecret(std::string_view(auth).substr(kBearer.size()), options_.management_token)) {
        return absl::UnauthenticatedError(
            auth.empty() ? "the repository API needs metadata 'authorization: Bearer <token>'"
                         : "invalid management token");
      }
    }
    return absl::OkStatus();
  }

  const Options options_;
  InferenceService* const service_;
  // Repository loads and unloads run here, in order, off gRPC's threads.
  WorkQueue background_;

 public:
  // ModelInfer calls between their start and their Finish (AsyncInferCall). Any thread.
  void CallStarted() { infer_in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void CallFinished() {
    if (infer_in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(infer_mu_);
      infer_idle_.notify_all();
    }
  }
  // Starts the ModelInfer queues' threads, each with calls awaited on its queue.
  void StartInferQueues();
  // After the server's Shutdown: waits (until `deadline`) for calls still to be finished, then
  // shuts the queues down and joins their threads.
  void StopInferQueues(std::chrono::steady_clock::time_point deadline);

  std::unique_ptr<GrpcHealthService> health_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> infer_queues_;

 private:
  std::vector<std::thread> infer_threads_;
  std::atomic<int> infer_in_flight_{0};
  std::mutex infer_mu_;
  std::condition_variable infer_idle_;
};

namespace {

// One ModelInfer call on the completion-queue API. Its life: RequestModelInfer with `this` as
// the tag; when a call arrives (on the queue's thread) it asks for the next one, decodes and
// queues the request (the scheduler's callback calls Finish from the instance thread); then two
// more events come back on the queue, in either order: the Finish (tag `this`) and the end of the
// call (tag &done_, AsyncNotifyWhenDone), which cancels the queued request when the client has
// cancelled or gone. The object deletes itself after both.
// What a completion-queue tag points to.
class CompletionTag {
 public:
  virtual void Complete(bool ok) = 0;

 protected:
  ~CompletionTag() = default;
};

class AsyncInferCall final : public CompletionTag {
 public:
  // Starts waiting for a call. Queue threads only (or before they start).
  static void Await(GrpcServer::Impl* server, grpc::ServerCompletionQueue* cq) {
    new AsyncInferCall(server, cq);
  }

  void Complete(bool ok) override { OnEvent(ok); }

 private:
  struct DoneTag final : CompletionTag {
    void Complete(bool) override { call->OnDone(); }
    AsyncInferCall* call = nullptr;
  };

  AsyncInferCall(GrpcServer::Impl* server, grpc::ServerCompletionQueue* cq)
      : server_(server), cq_(cq), responder_(&context_) {
    done_.call = this;
    context_.AsyncNotifyWhenDone(Tag(&done_));
    server_->RequestModelInfer(&context_, &request_, &responder_, cq_, cq_, Tag(this));
  }

  void OnEvent(bool ok) {
    if (!started_) {
      if (!ok) {  // the server is shutting down: no call came (and no done tag will)
        delete this;
        return;
      }
      started_ = true;
      Await(server_, cq_);  // the next call
      Start();
      return;
    }
    Release();  // the Finish has been sent (or failed: the client is gone)
  }

  void OnDone() {
    InferenceService::Cancel cancel;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (context_.IsCancelled() && !finished_) cancel = cancel_;
    }
    if (cancel) cancel();  // answers CANCELLED through the callback, which Finishes
    Release();
  }

  void Start() {
    InferenceService::Call call = InferenceService::StartCall(
        RequestId(Lookup(context_, "x-request-id")), "grpc", &GrpcCodeName);
    context_.AddInitialMetadata("x-request-id", call.request_id);
    server_->CallStarted();
    // request_ lives until this object is deleted; its raw contents are moved into the
    // request's tensors (shared owner), so they outlive it where a shadow copy still runs.
    const DecodeLimits limits = server_->options().limits;
    InferenceService::Cancel cancel = server_->service().Infer(
        call, request_.model_name(), request_.model_version(), Headers(context_),
        [this, limits](const ModelVersion&) -> absl::StatusOr<InferenceRequest> {
          absl::StatusOr<InferenceRequest> decoded = DecodeGrpcInferRequest(request_, limits);
          if (!decoded.ok()) return decoded.status();
          absl::Status timeout = ApplyTimeout(context_, *decoded);
          if (!timeout.ok()) return timeout;
          return decoded;
        },
        [this](absl::StatusOr<InferenceResponse> r, const InferenceService::ServedBy& by) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            finished_ = true;
            cancel_ = nullptr;
          }
          GrpcServer::Impl* server = server_;
          if (!r.ok()) {
            responder_.FinishWithError(GrpcStatusFor(r.status()), Tag(this));
          } else {
            context_.AddInitialMetadata("x-model-version", by.version);
            if (!by.variant.empty()) context_.AddInitialMetadata("x-variant", by.variant);
            EncodeGrpcInferResponse(*r, &response_);
            responder_.Finish(response_, grpc::Status::OK, Tag(this));
          }
          server->CallFinished();  // `this` may be gone from here on
        });
    if (cancel) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!finished_) cancel_ = std::move(cancel);
    }
  }

  void Release() {
    if (pending_events_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // The void* gRPC carries for `tag` (InferQueueThread turns it back into a CompletionTag*).
  static void* Tag(CompletionTag* tag) { return tag; }
  GrpcServer::Impl* const server_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  inference::ModelInferRequest request_;
  inference::ModelInferResponse response_;
  grpc::ServerAsyncResponseWriter<inference::ModelInferResponse> responder_;
  DoneTag done_;
  bool started_ = false;                // queue thread only
  std::atomic<int> pending_events_{2};  // after the start: the Finish and the done tag
  std::mutex mu_;
  bool finished_ = false;            // guarded by mu_
  InferenceService::Cancel cancel_;  // guarded by mu_
};

}  // namespace

namespace {

// One ModelStreamInfer call: every request read is served independently; its
// response (or error_message) is written when it is ready, so responses may
// come back in another order than the requests (match them by id). At most
// kMaxPending requests of a stream are in flight: reading waits for answers
// beyond that. When the client goes away, queued requests are dropped and the
// call finishes once the running ones are answered.
//
// gRPC operations (StartRead, StartWrite, Finish) are started outside mu_.
class StreamReactor final : public grpc::ServerBidiReactor<inference::ModelInferRequest,
                                                           inference::ModelStreamInferResponse> {
 public:
  static constexpr int kMaxPending = 256;

  StreamReactor(GrpcServer::Impl* server, CallbackServerContext* context)
      : server_(server), context_(context) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side, or the call is over
      std::unique_lock<std::mutex> lock(mu_);
      reads_done_ = true;
      reading_ = false;
      MaybeFinish(lock);
      return;
    }
    const uint64_t key = next_key_++;
    const std::string id = request_.id();
    InferenceService::Call call = InferenceService::StartCall(
        RequestId(Lookup(*context_, "x-request-id")), "grpc", &GrpcCodeName);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++pending_;
      reading_ = false;
      in_read_done_ = true;  // request_ is in use: no read may start until this returns
    }
    const DecodeLimits limits = server_->options().limits;
    inference::ModelInferRequest* message = &request_;
    CallbackServerContext* context = context_;
    InferenceService::Cancel cancel = server_->service().Infer(
        call, request_.model_name(), request_.model_version(), Headers(*context_),
        [message, context, limits](const ModelVersion&) -> absl::StatusOr<InferenceRequest> {
          absl::StatusOr<InferenceRequest> decoded = DecodeGrpcInferRequest(*message, limits);
          if (!decoded.ok()) return decoded.status();
          absl::Status timeout = ApplyTimeout(*context, *decoded);
          if (!timeout.ok()) return timeout;
          return decoded;
        },
        [this, key, id](absl::StatusOr<InferenceResponse> r, const InferenceService::ServedBy&) {
          auto reply = std::make_unique<inference::ModelStreamInferResponse>();
          if (r.ok()) {
            EncodeGrpcInferResponse(*r, reply->mutable_infer_response());
          } else {
            reply->set_error_message(std::string(r.status().message()));
            reply->mutable_infer_response()->set_id(id);
          }
          Answered(key, std::move(reply));
        });
    request_.Clear();
    std::unique_lock<std::mutex> lock(mu_);
    if (cancel && answered_.count(key) == 0) cancels_[key] = std::move(cancel);
    answered_.erase(key);
    in_read_done_ = false;
    if (!cancelled_ && !broken_ && pending_ < kMaxPending) {
      reading_ = true;
      lock.unlock();
      StartRead(&request_);
      return;
    }
    MaybeFinish(lock);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    writes_.pop_front();
    if (!ok) broken_ = true;
    writing_ = false;
    WriteNext(lock);
  }

  void OnCancel() override {
    std::vector<InferenceService::Cancel> cancels;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      for (auto& [key, cancel] : cancels_) cancels.push_back(cancel);
    }
    for (auto& cancel : cancels) cancel();  // each answers CANCELLED through Answered
  }

  void OnDone() override { delete this; }

 private:
  void Answered(uint64_t key, std::unique_ptr<inference::ModelStreamInferResponse> reply) {
    std::unique_lock<std::mutex> lock(mu_);
    if (cancels_.erase(key) == 0) answered_.insert(key);  // answered before Infer returned
    --pending_;
    if (!broken_ && !cancelled_) writes_.push_back(std::move(reply));
    // A read paused for kMaxPending resumes (not while OnReadDone still runs: it decides).
    if (!reading_ && !in_read_done_ && !reads_done_ && !cancelled_ && !broken_ &&
        pending_ < kMaxPending) {
      reading_ = true;
      lock.unlock();
      StartRead(&request_);
      lock.lock();
    }
    WriteNext(lock);
  }

  // Starts the next write if none is in flight, else finishes when all is done. Releases `lock`.
  void WriteNext(std::unique_lock<std::mutex>& lock) {
    if (!writing_ && !writes_.empty() && !broken_) {
      writing_ = true;
      const inference::ModelStreamInferResponse* next = writes_.front().get();
      lock.unlock();
      StartWrite(next);
      return;
    }
    MaybeFinish(lock);
  }

  // Finishes once nothing is left to read, answer or write. Releases `lock`.
  void MaybeFinish(std::unique_lock<std::mutex>& lock) {
    const bool more_to_read = !reads_done_ && !cancelled_ && !broken_;
    if (finished_ || pending_ > 0 || writing_ || reading_ || in_read_done_ || more_to_read) {
      lock.unlock();
      return;
    }
    finished_ = true;
    const bool cancelled = cancelled_;
    lock.unlock();
    Finish(cancelled ? grpc::Status::CANCELLED : grpc::Status::OK);  // `this` may be gone
  }

  GrpcServer::Impl* const server_;
  CallbackServerContext* const context_;
  inference::ModelInferRequest request_;  // the read in progress (one at a time)
  uint64_t next_key_ = 0;                 // touched by OnReadDone only (reads are serial)

  std::mutex mu_;
  int pending_ = 0;
  bool reading_ = true;        // a read is outstanding
  bool in_read_done_ = false;  // OnReadDone is using request_
  bool reads_done_ = false, cancelled_ = false, broken_ = false;
  bool writing_ = false, finished_ = false;
  std::deque<std::unique_ptr<inference::ModelStreamInferResponse>> writes_;
  std::map<uint64_t, InferenceService::Cancel> cancels_;
  std::set<uint64_t> answered_;
};

}  // namespace

grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
GrpcServer::Impl::ModelStreamInfer(CallbackServerContext* context) {
  return new StreamReactor(this, context);
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() { Shutdown(std::chrono::milliseconds(100)); }

int GrpcServer::port() const { return impl_->port_; }

void GrpcServer::Impl::StartInferQueues() {
  // A few calls awaited per queue: each arriving call awaits the next before it is handled.
  constexpr int kAwaitedPerQueue = 8;
  for (auto& queue : infer_queues_) {
    grpc::ServerCompletionQueue* cq = queue.get();
    for (int i = 0; i < kAwaitedPerQueue; ++i) AsyncInferCall::Await(this, cq);
    infer_threads_.emplace_back([cq] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) static_cast<CompletionTag*>(tag)->Complete(ok);
    });
  }
}

void GrpcServer::Impl::StopInferQueues(std::chrono::steady_clock::time_point deadline) {
  {
    // Calls cancelled by the server's Shutdown are answered through their done tags, which
    // the queue threads still handle; a request inside the model finishes with it.
    std::unique_lock<std::mutex> lock(infer_mu_);
    if (!infer_idle_.wait_until(lock, deadline, [this] {
          return infer_in_flight_.load(std::memory_order_acquire) == 0;
        })) {
      // A Finish after its queue is shut down would abort the process: leave the queues and
      // their threads to the process's exit instead.
      spdlog::warn("gRPC: {} ModelInfer call(s) still unanswered at shutdown",
                   infer_in_flight_.load());
      for (auto& thread : infer_threads_) thread.detach();
      infer_threads_.clear();
      for (auto& queue : infer_queues_) queue.release();  // NOLINT: deliberately leaked
      infer_queues_.clear();
      return;
    }
  }
  for (auto& queue : infer_queues_) queue->Shutdown();
  for (auto& thread : infer_threads_) thread.join();
  infer_threads_.clear();
  infer_queues_.clear();
}

void GrpcServer::Shutdown(std::chrono::milliseconds grace) {
  if (!impl_->server_) return;
  impl_->health_->Stop();  // open Watch streams would hold the shutdown until its deadline
  impl_->server_->Shutdown(std::chrono::system_clock::now() + grace);
  impl_->server_->Wait();
  impl_->StopInferQueues(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  impl_->server_.reset();
}

namespace {

// A PEM file's text; bounded (a certificate chain is kilobytes).
absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  constexpr std::streamsize kMaxPemBytes = 1 << 20;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ec ? "" : " (not a regular file)"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::string text(kMaxPemBytes + 1, '\0');
  in.read(text.data(), kMaxPemBytes + 1);
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxPemBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is over 1 MiB"));
  }
  if (text.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is not PEM"));
  }
  return text;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const GrpcServer::Options& options) {
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--grpc-root-cert (mutual TLS) needs --grpc-server-cert and --grpc-server-key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both --grpc-server-cert and --grpc-server-key");
  }
  // Checked now, so that bad files stop the start with a reason (gRPC's watcher would only log
  // and fail every handshake): PEM, bounded, the key matches the certificate.
  RETURN_IF_ERROR(ReadPem(options.tls_cert_file, "--grpc-server-cert").status());
  RETURN_IF_ERROR(ReadPem(options.tls_key_file, "--grpc-server-key").status());
  if (!options.tls_client_ca_file.empty()) {
    RETURN_IF_ERROR(ReadPem(options.tls_client_ca_file, "--grpc-root-cert").status());
  }
  RETURN_IF_ERROR(http::TlsContext::Create({.cert_file = options.tls_cert_file,
                                            .key_file = options.tls_key_file,
                                            .client_ca_file = options.tls_client_ca_file})
                      .status());
  // The files are re-read every tls_refresh: a renewed certificate is served to new
  // connections without a restart (a pair that does not match is ignored until it does).
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.tls_key_file, options.tls_cert_file, options.tls_client_ca_file,
      static_cast<unsigned int>(std::max<int64_t>(1, options.tls_refresh.count())));
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.tls_client_ca_file.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Create(Options options,
                                                               InferenceService* service) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, Credentials(options));
  // gRPC locks absl::Mutex on every call; Debian's Abseil is built with its deadlock detector
  // on (a lock-order graph updated per acquisition: 4% of the server's CPU under load).
  // ptserve's own locking is checked by ThreadSanitizer in CI instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto impl = std::make_unique<Impl>(options, service);
  impl->health_ = std::make_unique<GrpcHealthService>(service);
  grpc::ServerBuilder builder;
  const std::string address =
      options.address.find(':') != std::string::npos && options.address.front() != '['
          ? absl::StrCat("[", options.address, "]:", options.port)
          : absl::StrCat(options.address, ":", options.port);
  builder.AddListeningPort(address, credentials, &impl->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.RegisterService(impl.get());
  builder.RegisterService(impl->health_.get());
  for (int i = 0; i < std::max(1, options.infer_threads); ++i) {
    impl->infer_queues_.push_back(builder.AddCompletionQueue());
  }
  impl->server_ = builder.BuildAndStart();
  if (!impl->server_ || impl->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("gRPC: cannot listen on ", address,
                     options.tls_cert_file.empty()
                         ? " (in use, or not an address of this machine?)"
                         : " (in use, not an address of this machine, or the TLS certificate "
                           "and key do not match?)"));
  }
  impl->StartInferQueues();
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

}  // namespace ptserve
