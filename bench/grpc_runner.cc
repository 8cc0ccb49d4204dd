#include "grpc_runner.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "protocol/grpc_service.grpc.pb.h"

namespace ptserve::bench {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, int max_message_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

absl::Status FromGrpc(const grpc::Status& s, const std::string& what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

absl::StatusOr<ModelMetadata> FetchGrpcModelMetadata(const std::string& target,
                                                     const std::string& model_name,
                                                     const std::string& model_version) {
  auto stub = inference::GRPCInferenceService::NewStub(MakeChannel(target, 64 << 20));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  inference::ModelMetadataRequest request;
  request.set_name(model_name);
  request.set_version(model_version);
  inference::ModelMetadataResponse response;
  grpc::Status s = stub->ModelMetadata(&context, request, &response);
  if (!s.ok()) return FromGrpc(s, absl::StrCat("ModelMetadata of '", model_name, "' at ", target));
  ModelMetadata metadata;
  metadata.name = response.name();
  for (const auto& input : response.inputs()) {
    std::optional<DataType> dtype = DataTypeFromName(input.datatype());
    if (!dtype) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", input.name(), "': unknown datatype '", input.datatype(), "'"));
    }
    metadata.inputs.push_back({input.name(), *dtype, {input.shape().begin(), input.shape().end()}});
  }
  return metadata;
}

inference::ModelInferRequest BuildGrpcRequest(const std::vector<InputTensor>& inputs,
                                              const std::string& model_name,
                                              const std::string& model_version) {
  inference::ModelInferRequest request;
  request.set_model_name(model_name);
  request.set_model_version(model_version);
  for (const InputTensor& t : inputs) {
    auto* input = request.add_inputs();
    input->set_name(t.meta.name);
    input->set_datatype(std::string(DataTypeName(t.meta.datatype)));
    for (int64_t d : t.meta.shape) input->add_shape(d);
    request.add_raw_input_contents(t.bytes);
  }
  return request;
}

class GrpcRunner::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)),
        stub_(inference::GRPCInferenceService::NewStub(
            MakeChannel(options_.target, options_.max_message_bytes))),
        poller_([this] { Poll(); }) {}
  ~Impl() {
    cq_.Shutdown();  // RunStep has waited for every call it started
    poller_.join();
  }

  absl::StatusOr<StepResult> RunStep(const StepConfig& config) {
    if (config.mode != StepConfig::Mode::kClosed) {
      return absl::UnimplementedError("-i grpc runs closed loops only (--concurrency-range)");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_ = std::make_unique<StepStats>();
      series_ = TimeSeries{};
      measuring_ = false;
      stop_ = false;
      in_flight_ = 0;
      measured_requests_ = 0;
    }
    for (int i = 0; i < config.concurrency; ++i) Issue(/*new_slot=*/true);
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.warmup_ms));
    {
      std::lock_guard<std::mutex> lock(mu_);
      measuring_ = true;
      measure_start_ns_ = NowNs();
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (options_.requests > 0) {
      cv_.wait(lock, [this] { return measured_requests_ >= options_.requests; });
    } else {
      cv_.wait_for(lock, std::chrono::milliseconds(options_.measurement_interval_ms));
    }
    measuring_ = false;
    stop_ = true;
    stats_->duration_ns = NowNs() - measure_start_ns_;
    cv_.wait(lock, [this] { return in_flight_ == 0; });
    StepResult result;
    result.config = config;
    result.stats = *stats_;
    result.series = series_;
    result.windows = 1;
    result.connections = 1;
    return result;
  }

 private:
  struct Call {
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<inference::ModelInferResponse>> rpc;
    int64_t start_ns = 0;
  };

  // The completion queue's thread: each finished call is recorded and, while the step runs,
  // replaced by the next (gRPC's completion-queue API, as perf_analyzer uses: one thread, no
  // hand-off between gRPC's threads and ours).
  void Poll() {
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
      std::unique_ptr<Call> call(static_cast<Call*>(tag));
      Done(*call, call->status);
    }
  }

  // Starts a call; `new_slot`: one more call in flight (else it replaces one that finished).
  void Issue(bool new_slot) {
    auto call = std::make_unique<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(options_.timeout_ms));
    if (new_slot) {
      std::lock_guard<std::mutex> lock(mu_);
      ++in_flight_;
    }
    call->start_ns = NowNs();
    call->rpc = stub_->PrepareAsyncModelInfer(&call->context, options_.request, &cq_);
    call->rpc->StartCall();
    Call* raw = call.release();  // Poll owns it again when it completes
    raw->rpc->Finish(&raw->response, &raw->status, raw);
  }

  void Done(Call& call, const grpc::Status& s) {
    const int64_t end_ns = NowNs();
    bool again;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (measuring_) {
        ++measured_requests_;
        if (s.ok()) {
          ++stats_->ok;
          stats_->latency.Record(end_ns - call.start_ns);
          series_.Record(end_ns - measure_start_ns_, end_ns - call.start_ns);
          const auto& p = call.response.parameters();
          if (auto it = p.find("queue_time_us"); it != p.end()) {
            stats_->queue_us_sum += static_cast<double>(it->second.int64_param());
            ++stats_->queue_count;
          }
          if (auto it = p.find("compute_time_us"); it != p.end()) {
            stats_->compute_us_sum += static_cast<double>(it->second.int64_param());
            ++stats_->compute_count;
          }
          if (auto it = p.find("batch_size"); it != p.end()) {
            stats_->batch_size_sum += static_cast<double>(it->second.int64_param());
            ++stats_->batch_count;
          }
        } else if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          ++stats_->errors.timeout;
        } else if (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
                   s.error_message().find("connect") != std::string::npos) {
          ++stats_->errors.connect;
        } else {
          ++stats_->errors.bad_response;
        }
        if (options_.requests > 0 && measured_requests_ >= options_.requests) stop_ = true;
      }
      again = !stop_;
      if (!again) --in_flight_;
    }
    if (again) {
      Issue(/*new_slot=*/false);
    } else {
      cv_.notify_all();
    }
  }

  Options options_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  grpc::CompletionQueue cq_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<StepStats> stats_ = std::make_unique<StepStats>();
  TimeSeries series_;
  bool measuring_ = false, stop_ = false;
  int in_flight_ = 0;
  int64_t measured_requests_ = 0;
  int64_t measure_start_ns_ = 0;
  std::thread poller_;  // last: started when everything above exists
};

GrpcRunner::GrpcRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcRunner::~GrpcRunner() = default;

absl::StatusOr<std::unique_ptr<GrpcRunner>> GrpcRunner::Create(Options options) {
  if (options.target.empty()) return absl::InvalidArgumentError("no gRPC target (-u host:port)");
  return std::unique_ptr<GrpcRunner>(new GrpcRunner(std::make_unique<Impl>(std::move(options))));
}

absl::StatusOr<StepResult> GrpcRunner::RunStep(const StepConfig& config) {
  return impl_->RunStep(config);
}

}  // namespace ptserve::bench
