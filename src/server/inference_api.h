// InferenceApi: the public HTTP endpoints — KServe v2 / Open Inference
// Protocol (health, metadata, inference in JSON and binary tensors) and the
// seed's POST /predict — as routes on an http::Router. Thin: each handler
// decodes with a protocol/ codec, calls the serving layer
// (serving/inference_service.h: routing, shadows, timeouts, metrics, logs),
// and encodes the answer; nothing here blocks a network thread.
#ifndef PTSERVE_SERVER_INFERENCE_API_H_
#define PTSERVE_SERVER_INFERENCE_API_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/inference_metrics.h"
#include "protocol/decode_limits.h"
#include "server/http/router.h"
#include "serving/inference_service.h"

namespace ptserve {

class InferenceApi {
 public:
  struct Options {
    // Model that POST /predict serves.
    std::string default_model;
    DecodeLimits limits;
    // Not owned; null = no GET /metrics.
    metrics::InferenceMetrics* metrics = nullptr;
  };

  // `service` is not owned and must outlive every request.
  InferenceApi(Options options, InferenceService* service);

  void Register(http::Router& router);

 private:
  // Serves a decoded request and answers through `responder` with `encode`'s response.
  using Encode = std::function<http::HttpResponse(InferenceResponse&)>;
  void Serve(const http::HttpRequest& request, const std::string& name, const std::string& version,
             std::shared_ptr<http::Responder> responder,
             std::function<absl::StatusOr<InferenceRequest>(const ModelVersion&)> prepare,
             Encode encode);

  void ServerMetadata(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void ModelMetadata(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void ModelConfig(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Statistics(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void ModelReady(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Infer(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);
  void Predict(http::HttpRequest& request, std::shared_ptr<http::Responder> responder);

  const Options options_;
  InferenceService* const service_;
};

}  // namespace ptserve

#endif  // PTSERVE_SERVER_INFERENCE_API_H_
