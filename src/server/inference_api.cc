#include "server/inference_api.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "config/model_config.h"
#include "metrics/text_format.h"
#include "protocol/kserve_codec.h"
#include "protocol/model_metadata.h"
#include "protocol/model_statistics.h"
#include "protocol/predict_codec.h"
#include "server/http_status.h"
#include "server/logging.h"

namespace ptserve {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::Responder;

std::string Str(std::string_view s) { return std::string(s); }

void AddTimingHeaders(HttpResponse& response, const InferenceResponse& r) {
  response.headers.emplace_back("X-Model-Version", r.model_version);
  response.headers.emplace_back("X-Queue-Time-Us", std::to_string(r.timing.queue_us));
  response.headers.emplace_back("X-Compute-Time-Us", std::to_string(r.timing.compute_us));
  response.headers.emplace_back("X-Batch-Size", std::to_string(r.timing.batch_size));
}

std::string HttpStatusName(const absl::Status& status) {
  return std::to_string(HttpStatusFor(status));
}

HeaderLookup Headers(const HttpRequest& request) {
  return [&request](std::string_view name) { return Str(request.Header(name)); };
}

}  // namespace

InferenceApi::InferenceApi(Options options, InferenceService* service)
    : options_(std::move(options)), service_(service) {}

void InferenceApi::Register(http::Router& router) {
  router.Add("GET", "/v2/health/live", [](HttpRequest&, std::shared_ptr<Responder> r) {
    r->Send({200, "", {}, ""});
  });
  router.Add("GET", "/v2/health/ready", [this](HttpRequest&, std::shared_ptr<Responder> r) {
    const absl::Status ready = service_->Ready();
    if (ready.ok()) {
      r->Send({200, "", {}, ""});
    } else {
      r->Send(http::ErrorResponse(
          503, Str(std::string_view(ready.message().data(), ready.message().size()))));
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
  // Triton's statistics extension ("stats" as a model name is taken by it, as in Triton).
  router.Add("GET", "/v2/models/stats", bind(&InferenceApi::Statistics));
  router.Add("GET", "/v2/models/{model}/stats", bind(&InferenceApi::Statistics));
  router.Add("GET", "/v2/models/{model}/versions/{version}/stats", bind(&InferenceApi::Statistics));
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

void InferenceApi::Serve(
    const HttpRequest& request, const std::string& name, const std::string& version,
    std::shared_ptr<Responder> responder,
    std::function<absl::StatusOr<InferenceRequest>(const ModelVersion&)> prepare, Encode encode) {
  const InferenceService::Call call = InferenceService::StartCall(
      RequestId(request.Header("x-request-id")), "http", &HttpStatusName);
  InferenceService::Cancel cancel = service_->Infer(
      call, name, version, Headers(request), std::move(prepare),
      [responder, encode = std::move(encode), request_id = call.request_id](
          absl::StatusOr<InferenceResponse> r, const InferenceService::ServedBy& by) {
        if (!r.ok()) {
          HttpResponse response = ErrorFor(r.status());
          response.headers.emplace_back("X-Request-ID", request_id);
          responder->Send(std::move(response));
          return;
        }
        HttpResponse response = encode(*r);
        AddTimingHeaders(response, *r);
        response.headers.emplace_back("X-Request-ID", request_id);
        if (!by.variant.empty()) response.headers.emplace_back("X-Variant", by.variant);
        responder->Send(std::move(response));
      });
  if (cancel) responder->OnDisconnect([cancel = std::move(cancel)] { cancel(); });
}

void InferenceApi::ServerMetadata(HttpRequest&, std::shared_ptr<Responder> responder) {
  responder->Send({200, "application/json", {}, ServerMetadataJson(service_->Metadata())});
}

void InferenceApi::ModelMetadata(HttpRequest& request, std::shared_ptr<Responder> responder) {
  auto metadata = service_->Metadata(Str(request.Param("model")), Str(request.Param("version")),
                                     Headers(request));
  if (!metadata.ok()) {
    responder->Send(ErrorFor(metadata.status()));
    return;
  }
  responder->Send({200, "application/json", {}, ModelMetadataJson(*metadata)});
}

void InferenceApi::ModelConfig(HttpRequest& request, std::shared_ptr<Responder> responder) {
  auto version = service_->Version(Str(request.Param("model")), Str(request.Param("version")));
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

void InferenceApi::Statistics(HttpRequest& request, std::shared_ptr<Responder> responder) {
  auto stats = service_->Statistics(Str(request.Param("model")), Str(request.Param("version")));
  if (!stats.ok()) {
    responder->Send(ErrorFor(stats.status()));
    return;
  }
  responder->Send({200, "application/json", {}, ModelStatisticsJson(*stats)});
}

void InferenceApi::ModelReady(HttpRequest& request, std::shared_ptr<Responder> responder) {
  const absl::Status ready = service_->ModelReady(Str(request.Param("model")),
                                                  Str(request.Param("version")), Headers(request));
  responder->Send(ready.ok() ? HttpResponse{200, "", {}, ""} : ErrorFor(ready));
}

void InferenceApi::Infer(HttpRequest& request, std::shared_ptr<Responder> responder) {
  auto prepare = [this, &request](const ModelVersion&) -> absl::StatusOr<InferenceRequest> {
    std::optional<size_t> header_length;
    std::string_view length = request.Header("inference-header-content-length");
    if (!length.empty()) {
      size_t n;
      if (!absl::SimpleAtoi(absl::string_view(length.data(), length.size()), &n)) {
        return absl::InvalidArgumentError(absl::StrCat("header Inference-Header-Content-Length: '",
                                                       Str(length), "' is not a byte count"));
      }
      header_length = n;
    }
    absl::StatusOr<InferenceRequest> decoded =
        DecodeKServeRequest(request.body, header_length, options_.limits);
    if (!decoded.ok()) return decoded.status();
    absl::StatusOr<std::optional<int64_t>> timeout =
        ParseTimeoutHeader(request.Header("x-timeout-us"));
    if (!timeout.ok()) return timeout.status();
    if (*timeout && !decoded->timeout_us) decoded->timeout_us = *timeout;
    return decoded;
  };
  Serve(request, Str(request.Param("model")), Str(request.Param("version")), std::move(responder),
        prepare, [](InferenceResponse& r) {
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
  std::string name = Str(request.Param("model"));
  if (name.empty()) name = options_.default_model;
  if (name.empty()) {
    responder->Send(http::ErrorResponse(
        404, "no default model: start ptserve with --default-model or use /predict/{model}"));
    return;
  }
  auto single = std::make_shared<bool>(false);
  auto prepare = [this, &request, name,
                  single](const ModelVersion& v) -> absl::StatusOr<InferenceRequest> {
    if (v.inputs().size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", name, "' has ", v.inputs().size(),
          " inputs; /predict serves single-input models, use POST /v2/models/", name, "/infer"));
    }
    const TensorSpec& spec = v.inputs()[0];
    PredictInputSpec predict_spec{spec.name, spec.dtype, spec.any_shape ? Shape{-1} : spec.dims,
                                  v.batched()};
    auto decoded = DecodePredictRequest(request.body, predict_spec, options_.limits);
    if (!decoded.ok()) return decoded.status();
    auto timeout = ParseTimeoutHeader(request.Header("x-timeout-us"));
    if (!timeout.ok()) return timeout.status();
    decoded->request.timeout_us = *timeout;
    *single = decoded->single_example;
    return std::move(decoded->request);
  };
  Serve(request, name, "", std::move(responder), prepare, [single](InferenceResponse& r) {
    return HttpResponse{200, "application/json", {}, EncodePredictResponse(r, *single)};
  });
}

}  // namespace ptserve
