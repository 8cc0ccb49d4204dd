#include "server/inference_api.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "config/model_config.h"
#include "core/status_macros.h"
#include "metrics/text_format.h"
#include "protocol/json_writer.h"
#include "protocol/kserve_codec.h"
#include "protocol/predict_codec.h"
#include "server/http_status.h"
#include "server/logging.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::Responder;

std::string Str(std::string_view s) { return std::string(s); }

void AppendShape(std::string* out, const Shape& shape) {
  out->push_back('[');
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonInt(out, shape[i]);
  }
  out->push_back(']');
}

void AppendSpecs(std::string* out, const std::vector<TensorSpec>& specs, bool batched) {
  out->push_back('[');
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i) out->push_back(',');
    out->append("{\"name\":");
    AppendJsonString(out, specs[i].name);
    out->append(",\"datatype\":");
    AppendJsonString(out, DataTypeName(specs[i].dtype));
    out->append(",\"shape\":");
    AppendShape(out, MetadataShape(specs[i], batched));
    out->push_back('}');
  }
  out->push_back(']');
}

void AddTimingHeaders(HttpResponse& response, const InferenceResponse& r) {
  response.headers.emplace_back("X-Model-Version", r.model_version);
  response.headers.emplace_back("X-Queue-Time-Us", std::to_string(r.timing.queue_us));
  response.headers.emplace_back("X-Compute-Time-Us", std::to_string(r.timing.compute_us));
  response.headers.emplace_back("X-Batch-Size", std::to_string(r.timing.batch_size));
}

}  // namespace

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
    return absl::InvalidArgumentError(absl::StrCat(
        "header X-Timeout-Us: '", shown, value.size() > 64 ? "...'" : "'",
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

}  // namespace

absl::StatusOr<InferenceApi::Target> InferenceApi::Resolve(const HttpRequest& request,
                                                           const std::string& name,
                                                           const std::string& version) const {
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
  std::string header = absl::AsciiStrToLower(router->sticky_header());
  ASSIGN_OR_RETURN(TrafficRouter::Variant variant,
                   router->Pick(Str(request.Header(header)), Str(request.Header("x-variant"))));
  ASSIGN_OR_RETURN(target.version, repository_->Get(variant.model, variant.version));
  target.router = router;
  target.routed_model = name;
  target.variant = variant.name;
  target.metrics = options_.metrics != nullptr
                       ? options_.metrics->ForModel(variant.model,
                                                    target.version->version_string(), variant.name)
                       : target.version->metrics();
  for (const TrafficRouter::Variant& shadow : router->Shadows()) {
    auto v = repository_->Get(shadow.model, shadow.version);
    if (v.ok()) target.shadows.emplace_back(shadow.name, *v);
  }
  return target;
}

InferenceApi::Call InferenceApi::StartCall(const HttpRequest& request) {
  return Call{Clock::Real()->Now(), RequestId(request.Header("x-request-id"))};
}

void InferenceApi::LogRequest(const Target& target, const Call& call, int status,
                              int64_t total_us, const InferenceTiming& timing,
                              const absl::Status& error) const {
  const std::string& model = target.version->name();
  const std::string& version = target.version->version_string();
  if (options_.log_requests) {
    static const std::shared_ptr<spdlog::logger> access = spdlog::get("access");
    if (access) {
      access->info("request_id={} model={} version={} variant={} status={} total_us={} "
                   "queue_us={} compute_us={} batch={}{}{}",
                   call.request_id, model, version, target.variant, status, total_us,
                   timing.queue_us, timing.compute_us, timing.batch_size,
                   error.ok() ? "" : " error=", std::string(error.message()));
    }
  }
  // Both warnings are throttled (one line a second per model, version and kind): under overload
  // every request fails or is slow, and a line each would cost the CPU the server is short of.
  const bool failed = status >= 500;
  if (!failed && !(options_.slow_request_us > 0 && total_us > options_.slow_request_us)) return;
  const std::optional<int64_t> left_out = warning_log_.Admit(
      absl::StrCat(model, "/", version, "/", failed ? std::to_string(status) : "slow"));
  if (!left_out) return;
  const std::string more =
      *left_out == 0 ? ""
                     : absl::StrCat(" (", *left_out, " more like it since the last such line, "
                                    "not logged here; the metrics and the access log count all)");
  if (failed) {
    spdlog::warn("request {} to model '{}' version {} failed ({}): {}{}", call.request_id, model,
                 version, status, std::string(error.message()), more);
  } else {
    spdlog::warn("slow request {} to model '{}' version {}: {} us (queue {} us, compute {} us, "
                 "batch {}){}", call.request_id, model, version, total_us, timing.queue_us,
                 timing.compute_us, timing.batch_size, more);
  }
}

void InferenceApi::Fail(const Target& target, const absl::Status& status, const Call& call,
                        Responder& responder) {
  const int64_t total_us = MicrosBetween(call.received, Clock::Real()->Now());
  target.metrics->RecordRequest(metrics::OutcomeFor(status), total_us, 0, 0);
  HttpResponse response = ErrorFor(status);
  response.headers.emplace_back("X-Request-ID", call.request_id);
  LogRequest(target, call, response.status, total_us, InferenceTiming{}, status);
  responder.Send(std::move(response));
}

void InferenceApi::Submit(Target target, InferenceRequest request,
                          std::shared_ptr<Responder> responder, Call call,
                          std::function<HttpResponse(InferenceResponse&)> encode) {
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
  auto ticket = version->Infer(
      std::move(request), [this, responder, encode = std::move(encode), target, call,
                           comparisons, start](absl::StatusOr<InferenceResponse> r) {
        const std::shared_ptr<TrafficRouter>& router = target.router;
        const std::string& variant = target.variant;
        metrics::ModelMetrics& metrics = *target.metrics;
        if (router) {
          router->RecordResult(variant, r.ok(),
                               static_cast<double>(MicrosBetween(start, Clock::Real()->Now())));
          for (auto& c : comparisons) c->Offer(true, r);
        }
        if (!r.ok()) {
          HttpResponse response = ErrorFor(r.status());
          response.headers.emplace_back("X-Request-ID", call.request_id);
          const int status = response.status;
          responder->Send(std::move(response));
          const int64_t total_us = MicrosBetween(start, Clock::Real()->Now());
          metrics.RecordRequest(metrics::OutcomeFor(r.status()), total_us, 0, 0);
          LogRequest(target, call, status, total_us, InferenceTiming{}, r.status());
          return;
        }
        const InferenceTiming timing = r->timing;
        HttpResponse response = encode(*r);
        AddTimingHeaders(response, *r);
        response.headers.emplace_back("X-Request-ID", call.request_id);
        if (router) response.headers.emplace_back("X-Variant", variant);
        responder->Send(std::move(response));
        const int64_t total_us = MicrosBetween(start, Clock::Real()->Now());
        metrics.RecordRequest(metrics::Outcome::kSuccess, total_us, timing);
        LogRequest(target, call, 200, total_us, timing, absl::OkStatus());
      });
  if (!ticket.ok()) {
    for (auto& c : comparisons) c->Offer(true, ticket.status());
    Fail(target, ticket.status(), call, *responder);
    return;
  }
  responder->OnDisconnect([version, t = *ticket] {
    if (version->Cancel(t)) {
      spdlog::debug("model '{}': the client disconnected; its request was dropped from the queue",
                    version->name());
    }
  });
}

InferenceApi::InferenceApi(Options options, ModelRepository* repository)
    : options_(std::move(options)), repository_(repository) {}

void InferenceApi::Register(http::Router& router) {
  router.Add("GET", "/v2/health/live", [](HttpRequest&, std::shared_ptr<Responder> r) {
    r->Send({200, "", {}, ""});
  });
  router.Add("GET", "/v2/health/ready", [this](HttpRequest&, std::shared_ptr<Responder> r) {
    if (shutting_down_.load()) {
      r->Send(http::ErrorResponse(503, "shutting down"));
    } else if (!repository_->AllReady()) {
      r->Send(http::ErrorResponse(503, "not every model is ready; see POST /v2/repository/index"));
    } else if (options_.ready_needs_a_model && !repository_->AnyReady()) {
      r->Send(http::ErrorResponse(503, "no model is loaded: is the model repository empty or "
                                       "unreadable?"));
    } else {
      r->Send({200, "", {}, ""});
    }
  });
  auto bind = [this](void (InferenceApi::*fn)(HttpRequest&, std::shared_ptr<Responder>)) {
    return [this, fn](HttpRequest& q, std::shared_ptr<Responder> r) { (this->*fn)(q, std::move(r)); };
  };
  router.Add("GET", "/v2", bind(&InferenceApi::ServerMetadata));
  router.Add("GET", "/v2/models/{model}", bind(&InferenceApi::ModelMetadata));
  router.Add("GET", "/v2/models/{model}/versions/{version}", bind(&InferenceApi::ModelMetadata));
  router.Add("GET", "/v2/models/{model}/config", bind(&InferenceApi::ModelConfig));
  router.Add("GET", "/v2/models/{model}/versions/{version}/config", bind(&InferenceApi::ModelConfig));
  router.Add("GET", "/v2/models/{model}/ready", bind(&InferenceApi::ModelReady));
  router.Add("GET", "/v2/models/{model}/versions/{version}/ready", bind(&InferenceApi::ModelReady));
  router.Add("POST", "/v2/models/{model}/infer", bind(&InferenceApi::Infer));
  router.Add("POST", "/v2/models/{model}/versions/{version}/infer", bind(&InferenceApi::Infer));
  router.Add("POST", "/predict", bind(&InferenceApi::Predict));
  if (options_.metrics != nullptr && options_.metrics->enabled()) {
    router.Add("GET", "/metrics", [this](HttpRequest&, std::shared_ptr<Responder> r) {
      r->Send({200, metrics::kTextContentType, {}, options_.metrics->Scrape()});
    });
  }
  router.Add("POST", "/predict/{model}", bind(&InferenceApi::Predict));
}

void InferenceApi::ServerMetadata(HttpRequest&, std::shared_ptr<Responder> responder) {
  std::string body = "{\"name\":\"ptserve\",\"version\":";
  AppendJsonString(&body, options_.server_version);
  body.append(",\"extensions\":[\"binary_tensor_data\",\"model_configuration\"]}");
  responder->Send({200, "application/json", {}, std::move(body)});
}

void InferenceApi::ModelMetadata(HttpRequest& request, std::shared_ptr<Responder> responder) {
  const std::string name = Str(request.Param("model"));
  auto target = Resolve(request, name, Str(request.Param("version")));
  if (!target.ok()) {
    responder->Send(ErrorFor(target.status()));
    return;
  }
  const ModelVersion& v = *target->version;
  std::string body = "{\"name\":";
  AppendJsonString(&body, name);
  body.append(",\"versions\":[");
  bool first = true;
  for (const auto& ready : repository_->Versions(target->router ? v.name() : name)) {
    if (!first) body.push_back(',');
    first = false;
    AppendJsonString(&body, ready->version_string());
  }
  body.append("],\"platform\":");
  AppendJsonString(&body, v.config().platform().empty() ? "pytorch_libtorch" : v.config().platform());
  body.append(",\"inputs\":");
  AppendSpecs(&body, v.inputs(), v.batched());
  body.append(",\"outputs\":");
  AppendSpecs(&body, v.outputs(), v.batched());
  body.append(",\"max_batch_size\":");
  AppendJsonInt(&body, v.config().max_batch_size());
  body.push_back('}');
  responder->Send({200, "application/json", {}, std::move(body)});
}

void InferenceApi::ModelConfig(HttpRequest& request, std::shared_ptr<Responder> responder) {
  auto version = repository_->Get(Str(request.Param("model")), Str(request.Param("version")));
  if (!version.ok()) {
    responder->Send(ErrorFor(version.status()));
    return;
  }
  auto json = ModelConfigToJson((*version)->config());
  if (!json.ok()) {
    responder->Send(ErrorFor(json.status()));
    return;
  }
  responder->Send({200, "application/json", {}, std::move(*json)});
}

void InferenceApi::ModelReady(HttpRequest& request, std::shared_ptr<Responder> responder) {
  auto target = Resolve(request, Str(request.Param("model")), Str(request.Param("version")));
  if (!target.ok()) {
    responder->Send(ErrorFor(target.status()));
    return;
  }
  responder->Send({200, "", {}, ""});
}

void InferenceApi::Infer(HttpRequest& request, std::shared_ptr<Responder> responder) {
  const Call call = StartCall(request);
  auto target = Resolve(request, Str(request.Param("model")), Str(request.Param("version")));
  if (!target.ok()) {
    responder->Send(ErrorFor(target.status()));  // not counted: unknown names are unbounded
    return;
  }
  std::optional<size_t> header_length;
  std::string_view length = request.Header("inference-header-content-length");
  if (!length.empty()) {
    size_t n;
    if (!absl::SimpleAtoi(absl::string_view(length.data(), length.size()), &n)) {
      Fail(*target,
           absl::InvalidArgumentError(absl::StrCat("header Inference-Header-Content-Length: '",
                                                   Str(length), "' is not a byte count")),
           call, *responder);
      return;
    }
    header_length = n;
  }
  auto decoded = DecodeKServeRequest(request.body, header_length, options_.limits);
  if (!decoded.ok()) {
    Fail(*target, decoded.status(), call, *responder);
    return;
  }
  auto timeout = ParseTimeoutHeader(request.Header("x-timeout-us"));
  if (!timeout.ok()) {
    Fail(*target, timeout.status(), call, *responder);
    return;
  }
  if (*timeout && !decoded->timeout_us) decoded->timeout_us = *timeout;
  if (decoded->timeout_us) decoded->timeout_us = SaturateTimeoutUs(*decoded->timeout_us);
  Submit(std::move(*target), std::move(*decoded), std::move(responder), call,
         [](InferenceResponse& r) {
           EncodedResponse encoded = EncodeKServeResponse(r);
           HttpResponse response{200, "application/json", {}, std::move(encoded.body)};
           if (encoded.json_header_length) {
             response.content_type = "application/octet-stream";
             response.headers.emplace_back("Inference-Header-Content-Length",
                                           std::to_string(*encoded.json_header_length));
           }
           return response;
         });
}

void InferenceApi::Predict(HttpRequest& request, std::shared_ptr<Responder> responder) {
  const Call call = StartCall(request);
  std::string name = Str(request.Param("model"));
  if (name.empty()) name = options_.default_model;
  if (name.empty()) {
    responder->Send(http::ErrorResponse(
        404, "no default model: start ptserve with --default-model or use /predict/{model}"));
    return;
  }
  auto target = Resolve(request, name, "");
  if (!target.ok()) {
    responder->Send(ErrorFor(target.status()));
    return;
  }
  const ModelVersion& v = *target->version;
  if (v.inputs().size() != 1) {
    Fail(*target,
         absl::InvalidArgumentError(absl::StrCat(
             "model '", name, "' has ", v.inputs().size(),
             " inputs; /predict serves single-input models, use POST /v2/models/", name,
             "/infer")),
         call, *responder);
    return;
  }
  const TensorSpec& spec = v.inputs()[0];
  PredictInputSpec predict_spec{spec.name, spec.dtype, spec.any_shape ? Shape{-1} : spec.dims,
                                v.batched()};
  auto decoded = DecodePredictRequest(request.body, predict_spec, options_.limits);
  if (!decoded.ok()) {
    Fail(*target, decoded.status(), call, *responder);
    return;
  }
  auto timeout = ParseTimeoutHeader(request.Header("x-timeout-us"));
  if (!timeout.ok()) {
    Fail(*target, timeout.status(), call, *responder);
    return;
  }
  decoded->request.timeout_us = *timeout;
  const bool single = decoded->single_example;
  Submit(std::move(*target), std::move(decoded->request), std::move(responder), call,
         [single](InferenceResponse& r) {
           return HttpResponse{200, "application/json", {}, EncodePredictResponse(r, single)};
         });
}

}  // namespace ptserve
