// GrpcServer: the gRPC front end (--grpc-port). Serves, on one port:
//   - inference.GRPCInferenceService (KServe v2, protocol/grpc_service.proto):
//     ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata,
//     ModelInfer (typed contents or raw_input_contents; answers in
//     raw_output_contents), ModelStreamInfer (bidirectional; responses
//     matched by id, errors per request in error_message), ModelConfig,
//     ModelStatistics,
//     RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload;
//   - grpc.health.v1.Health (Check) for Kubernetes' gRPC probes: service ""
//     or "live" is SERVING while the process runs; "ready" or
//     "inference.GRPCInferenceService" is SERVING when the server is ready
//     (InferenceService::Ready()); any other name is NOT_FOUND.
//
// Inference goes through the same InferenceService as HTTP (same routing,
// scheduler and dynamic batching, metrics, access log). Handlers use gRPC's
// callback API: no thread waits on inference; a call the client cancels (or
// abandons) has its queued requests dropped.
//
// Request metadata: x-request-id (echoed back in the initial metadata, or
// generated), x-routing-key / the router's sticky header, x-variant,
// x-timeout-us (as HTTP's X-Timeout-Us). The call's deadline, when set,
// bounds the time in the queue too. Answers carry x-request-id,
// x-model-version and, for a routed model, x-variant.
//
// The repository RPCs follow the management API's rules: refused
// (UNAVAILABLE) when the management API is off; allowed only from a
// loopback peer unless --management-address is a wildcard (PERMISSION_DENIED
// otherwise); with a management token, metadata "authorization: Bearer
// <token>" is required (UNAUTHENTICATED otherwise). Loads run on this
// server's own worker thread.
//
// TLS when Options::tls_cert_file is set (mutual with tls_client_ca_file); the files are
// checked at Create() and re-read every Options::tls_refresh (new connections get the new
// certificate; open ones keep theirs).
//
// Thread-safe. Shutdown() stops accepting calls and waits for running ones
// up to its deadline.
#ifndef PTSERVE_SERVER_GRPC_SERVER_H_
#define PTSERVE_SERVER_GRPC_SERVER_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "protocol/decode_limits.h"
#include "serving/inference_service.h"

namespace ptserve {

class GrpcServer {
 public:
  struct Options {
    std::string address = "0.0.0.0";
    int port = 8001;  // 0: any free port (see port())
    // Largest request message accepted (RESOURCE_EXHAUSTED above it) and largest answer sent.
    int max_message_bytes = 64 << 20;
    DecodeLimits limits;
    // Repository RPCs (see above).
    bool management_enabled = true;
    std::string management_address = "127.0.0.1";
    std::string management_token;
    // TLS (Triton's --grpc-use-ssl*): PEM files. With a certificate and key the port speaks
    // TLS only; with `client_ca_file` too (mutual TLS) a client must present a certificate
    // that CA signed. Empty: plaintext.
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_client_ca_file;
    // Threads that take ModelInfer calls off gRPC's completion queues, decode and queue them
    // (one queue each).
    int infer_threads = 2;
    // How often the TLS files are checked for a new certificate.
    std::chrono::seconds tls_refresh{10};
  };

  // `service` is not owned and must outlive the server. Binds and starts serving.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Create(Options options,
                                                            InferenceService* service);
  ~GrpcServer();

  int port() const;
  // Stops accepting; calls still running get until `grace` to finish, then are cancelled.
  void Shutdown(std::chrono::milliseconds grace);

  class Impl;

 private:
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptserve

#endif  // PTSERVE_SERVER_GRPC_SERVER_H_
