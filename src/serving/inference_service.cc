#include "serving/inference_service.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status_class.h"
#include "core/status_macros.h"
#include "spdlog/spdlog.h"

namespace ptserve {

int64_t SaturateTimeoutUs(int64_t timeout_us) {
  return std::clamp<int64_t>(timeout_us, 0, kMaxRequestTimeoutUs);
}

absl::StatusOr<std::optional<int64_t>> ParseTimeoutHeader(std::string_view value) {
  if (value.empty()) return std::optional<int64_t>();
  const absl::string_view stripped =
      absl::StripAsciiWhitespace(absl::string_view(value.data(), value.size()));
  std::string_view digits(stripped.data(), stripped.size());
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (!all_digits) {
    std::string shown(value.substr(0, 64));
    return absl::InvalidArgumentError(
        absl::StrCat("header X-Timeout-Us: '", shown, value.size() > 64 ? "...'" : "'",
                     " is not a non-negative integer number of microseconds"));
  }
  // Any number of digits is a valid timeout; one too large for int64 saturates.
  uint64_t us;
  if (digits.size() > 19 ||
      !absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &us) ||
      us > static_cast<uint64_t>(kMaxRequestTimeoutUs)) {
    return std::optional<int64_t>(kMaxRequestTimeoutUs);
  }
  return std::optional<int64_t>(static_cast<int64_t>(us));
}

bool IsServerError(const absl::Status& status) { return ClassOf(status).server_failure; }

namespace {

// Max |a - b| over two FP32 tensors of the same shape; NaN when they differ
// in type or shape.
double MaxAbsDiff(const Tensor& a, const Tensor& b) {
  if (a.dtype() != DataType::kFp32 || b.dtype() != DataType::kFp32 || a.shape() != b.shape()) {
    return std::nan("");
  }
  const float* x = a.data_as<float>();
  const float* y = b.data_as<float>();
  double diff = 0;
  for (int64_t i = 0; i < a.element_count(); ++i) {
    diff = std::max(diff, static_cast<double>(std::fabs(x[i] - y[i])));
  }
  return diff;
}

// A primary answer and a shadow's, compared once both have arrived.
struct ShadowComparison {
  std::mutex mu;
  std::optional<Tensor> primary, shadow;
  bool primary_done = false, shadow_done = false;
  std::shared_ptr<TrafficRouter> router;
  metrics::InferenceMetrics* metrics = nullptr;  // may be null
  std::string routed_model;
  std::string variant;
  void Offer(bool is_primary, const absl::StatusOr<InferenceResponse>& r) {
    std::lock_guard<std::mutex> lock(mu);
    (is_primary ? primary_done : shadow_done) = true;
    if (r.ok() && !r->outputs.empty()) (is_primary ? primary : shadow) = r->outputs[0].tensor;
    if (primary_done && shadow_done && primary && shadow) {
      const double diff = MaxAbsDiff(*primary, *shadow);
      router->RecordShadowDiff(variant, diff);
      if (metrics != nullptr) metrics->RecordShadowDifference(routed_model, variant, diff);
    }
  }
};

std::string NameOf(const InferenceService::Call& call, const absl::Status& status) {
  if (call.status_name != nullptr) return call.status_name(status);
  return absl::StatusCodeToString(status.code());
}

std::vector<TensorMetadata> TensorsMetadata(const std::vector<TensorSpec>& specs, bool batched) {
  std::vector<TensorMetadata> out;
  out.reserve(specs.size());
  for (const TensorSpec& spec : specs) {
    out.push_back({spec.name, spec.dtype, MetadataShape(spec, batched)});
  }
  return out;
}

}  // namespace

InferenceService::InferenceService(Options options, ModelRepository* repository)
    : options_(std::move(options)), repository_(repository) {}

InferenceService::Call InferenceService::StartCall(std::string request_id, std::string protocol,
                                                   StatusName status_name) {
  return Call{Clock::Real()->Now(), std::move(request_id), std::move(protocol), status_name};
}

absl::StatusOr<InferenceService::Target> InferenceService::Resolve(
    const std::string& name, const std::string& version, const HeaderLookup& headers) const {
  Target target;
  std::shared_ptr<TrafficRouter> router = repository_->Router(name);
  if (!router) {
    ASSIGN_OR_RETURN(target.version, repository_->Get(name, version));
    target.metrics = target.version->metrics();
    return target;
  }
  if (!version.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", name, "' routes traffic between variants and has no versions of its own"));
  }
  const std::string sticky = absl::AsciiStrToLower(router->sticky_header());
  ASSIGN_OR_RETURN(TrafficRouter::Variant variant,
                   router->Pick(headers ? headers(sticky) : std::string(),
                                headers ? headers("x-variant") : std::string()));
  ASSIGN_OR_RETURN(target.version, repository_->Get(variant.model, variant.version));
  target.router = router;
  target.routed_model = name;
  target.variant = variant.name;
  target.metrics = options_.metrics != nullptr
                       ? options_.metrics->ForModel(variant.model, target.version->version_string(),
                                                    variant.name)
                       : target.version->metrics();
  // Exported between requests too, while the router serves.
  router->HoldSeries(variant.name, target.metrics);
  for (const TrafficRouter::Variant& shadow : router->Shadows()) {
    auto v = repository_->Get(shadow.model, shadow.version);
    if (v.ok()) target.shadows.emplace_back(shadow.name, *v);
  }
  return target;
}

void InferenceService::Record(const Target& target, const Call& call, const absl::Status& status,
                              const InferenceTiming& timing, int64_t rows) {
  const int64_t total_us = MicrosBetween(call.received, Clock::Real()->Now());
  if (status.ok()) {
    target.metrics->RecordRequest(metrics::Outcome::kSuccess, total_us, timing);
  } else {
    target.metrics->RecordRequest(metrics::OutcomeFor(status), total_us, 0, 0);
  }
  const std::string& model = target.version->name();
  const std::string& version = target.version->version_string();
  statistics_.Record(model, version, status.ok(), total_us, timing.queue_us, timing.compute_us,
                     rows);
  const std::string status_name = NameOf(call, status);
  if (options_.log_requests) {
    static const std::shared_ptr<spdlog::logger> access = spdlog::get("access");
    if (access) {
      access->info(
          "request_id={} model={} version={} variant={} status={} total_us={} "
          "queue_us={} compute_us={} batch={}{}{}{}{}",
          call.request_id, model, version, target.variant, status_name, total_us, timing.queue_us,
          timing.compute_us, timing.batch_size,
          call.protocol.empty() || call.protocol == "http" ? "" : " protocol=",
          call.protocol == "http" ? "" : call.protocol,
          status.ok() ? "" : " error=", std::string(status.message()));
    }
  }
  // Both warnings are throttled (one line a second per model, version and kind): under overload
  // every request fails or is slow, and a line each would cost the CPU the server is short of.
  const bool failed = IsServerError(status);
  if (!failed && !(options_.slow_request_us > 0 && total_us > options_.slow_request_us)) return;
  const std::optional<int64_t> left_out =
      warning_log_.Admit(absl::StrCat(model, "/", version, "/", failed ? status_name : "slow"));
  if (!left_out) return;
  const std::string more =
      *left_out == 0 ? ""
                     : absl::StrCat(" (", *left_out,
                                    " more like it since the last such line, "
                                    "not logged here; the metrics and the access log count all)");
  if (failed) {
    spdlog::warn("request {} to model '{}' version {} failed ({}): {}{}", call.request_id, model,
                 version, status_name, std::string(status.message()), more);
  } else {
    spdlog::warn(
        "slow request {} to model '{}' version {}: {} us (queue {} us, compute {} us, "
        "batch {}){}",
        call.request_id, model, version, total_us, timing.queue_us, timing.compute_us,
        timing.batch_size, more);
  }
}

void InferenceService::Fail(const Target& target, const absl::Status& status, const Call& call,
                            const Done& done) {
  done(status, ServedBy{target.version->name(), target.version->version_string(), target.variant});
  Record(target, call, status, InferenceTiming{}, 0);
}

InferenceService::Cancel InferenceService::Infer(const Call& call, const std::string& name,
                                                 const std::string& version,
                                                 const HeaderLookup& headers,
                                                 InferenceRequest request, Done done) {
  return Infer(
      call, name, version, headers,
      [request = std::move(request)](const ModelVersion&) mutable {
        return absl::StatusOr<InferenceRequest>(std::move(request));
      },
      std::move(done));
}

InferenceService::Cancel InferenceService::Infer(
    const Call& call, const std::string& name, const std::string& version,
    const HeaderLookup& headers,
    std::function<absl::StatusOr<InferenceRequest>(const ModelVersion&)> prepare, Done done) {
  absl::StatusOr<Target> target = Resolve(name, version, headers);
  if (!target.ok()) {
    done(target.status(), ServedBy{name, version, ""});  // not counted: names are unbounded
    return nullptr;
  }
  absl::StatusOr<InferenceRequest> request = prepare(*target->version);
  if (!request.ok()) {
    Fail(*target, request.status(), call, done);
    return nullptr;
  }
  if (request->timeout_us) request->timeout_us = SaturateTimeoutUs(*request->timeout_us);
  return Submit(std::move(*target), std::move(*request), call, std::move(done));
}

InferenceService::Cancel InferenceService::Submit(Target target, InferenceRequest request,
                                                  const Call& call, Done done) {
  const SteadyTime start = call.received;
  std::vector<std::shared_ptr<ShadowComparison>> comparisons;
  for (auto& [shadow_name, shadow_version] : target.shadows) {
    auto comparison = std::make_shared<ShadowComparison>();
    comparison->router = target.router;
    comparison->metrics = options_.metrics;
    comparison->routed_model = target.routed_model;
    comparison->variant = shadow_name;
    comparisons.push_back(comparison);
    InferenceRequest copy = request;  // tensors are shared, not copied
    copy.id.clear();
    auto ticket = shadow_version->Infer(
        std::move(copy), [comparison, router = target.router, name = shadow_name,
                          start](absl::StatusOr<InferenceResponse> r) {
          const double us = static_cast<double>(MicrosBetween(start, Clock::Real()->Now()));
          router->RecordResult(name, r.ok(), us);
          comparison->Offer(false, r);
        });
    if (!ticket.ok()) comparison->Offer(false, ticket.status());
  }
  std::shared_ptr<ModelVersion> version = target.version;
  const int64_t rows =
      version->batched() && !request.inputs.empty() && !request.inputs[0].tensor.shape().empty()
          ? request.inputs[0].tensor.shape()[0]
          : 1;
  auto ticket = version->Infer(std::move(request), [this, done, target, call, comparisons, start,
                                                    rows](absl::StatusOr<InferenceResponse> r) {
    if (target.router) {
      target.router->RecordResult(target.variant, r.ok(),
                                  static_cast<double>(MicrosBetween(start, Clock::Real()->Now())));
      for (auto& c : comparisons) c->Offer(true, r);
    }
    const absl::Status status = r.status();
    const InferenceTiming timing = r.ok() ? r->timing : InferenceTiming{};
    done(std::move(r),
         ServedBy{target.version->name(), target.version->version_string(), target.variant});
    Record(target, call, status, timing, rows);
  });
  if (!ticket.ok()) {
    for (auto& c : comparisons) c->Offer(true, ticket.status());
    Fail(target, ticket.status(), call, done);
    return nullptr;
  }
  return [version, t = *ticket] {
    if (!version->Cancel(t)) return false;
    spdlog::debug("model '{}': the client went away; its request was dropped from the queue",
                  version->name());
    return true;
  };
}

absl::Status InferenceService::Ready() const {
  if (shutting_down_.load()) return absl::UnavailableError("shutting down");
  if (!repository_->AllReady()) {
    return absl::UnavailableError("not every model is ready; see POST /v2/repository/index");
  }
  if (options_.ready_needs_a_model && !repository_->AnyReady()) {
    return absl::UnavailableError(
        "no model is loaded: is the model repository empty or unreadable?");
  }
  return absl::OkStatus();
}

absl::Status InferenceService::ModelReady(const std::string& name, const std::string& version,
                                          const HeaderLookup& headers) const {
  return Resolve(name, version, headers).status();
}

ServerMetadata InferenceService::Metadata() const {
  ServerMetadata metadata{"ptserve",
                          options_.server_version,
                          {"binary_tensor_data", "model_configuration", "statistics"}};
  if (options_.repository_extension) metadata.extensions.push_back("model_repository");
  return metadata;
}

absl::StatusOr<ModelMetadata> InferenceService::Metadata(const std::string& name,
                                                         const std::string& version,
                                                         const HeaderLookup& headers) const {
  ASSIGN_OR_RETURN(Target target, Resolve(name, version, headers));
  const ModelVersion& v = *target.version;
  ModelMetadata metadata;
  metadata.name = name;
  for (const auto& ready : repository_->Versions(target.router ? v.name() : name)) {
    metadata.versions.push_back(ready->version_string());
  }
  metadata.platform = v.config().platform().empty() ? "pytorch_libtorch" : v.config().platform();
  metadata.inputs = TensorsMetadata(v.inputs(), v.batched());
  metadata.outputs = TensorsMetadata(v.outputs(), v.batched());
  metadata.max_batch_size = v.config().max_batch_size();
  return metadata;
}

absl::StatusOr<std::vector<ModelStatistics>> InferenceService::Statistics(
    const std::string& name, const std::string& version) const {
  std::vector<std::string> names;
  if (name.empty()) {
    names = repository_->ListModels();
  } else {
    RETURN_IF_ERROR(ModelRepository::CheckModelName(name));
    names.push_back(name);
  }
  std::vector<ModelStatistics> out;
  for (const std::string& model : names) {
    for (const auto& v : repository_->Versions(model)) {
      if (!version.empty() && v->version_string() != version) continue;
      const RequestStatistics::Totals t = statistics_.Read(model, v->version_string());
      ModelStatistics s;
      s.name = model;
      s.version = v->version_string();
      s.last_inference_ms = t.last_ms;
      s.inference_count = t.rows;
      s.success_count = t.success;
      s.success_ns = t.total_ns;
      s.failure_count = t.failure;
      s.failure_ns = t.failure_ns;
      s.queue_ns = t.queue_ns;
      s.compute_ns = t.compute_ns;
      const SchedulerStats scheduler = v->ExecutionStats();
      s.execution_count = scheduler.executions;
      for (const auto& [rows, batch] : scheduler.batches) {
        s.batch_stats.push_back({rows, batch.count, batch.compute_ns});
      }
      out.push_back(std::move(s));
    }
  }
  if (!name.empty() && out.empty()) {
    return absl::NotFoundError(
        version.empty() ? absl::StrCat("model '", name, "' has no loaded version")
                        : absl::StrCat("model '", name, "' has no loaded version ", version));
  }
  return out;
}

absl::StatusOr<std::shared_ptr<ModelVersion>> InferenceService::Version(
    const std::string& name, const std::string& version) const {
  return repository_->Get(name, version);
}

}  // namespace ptserve
