// ptserve: serves TorchScript models from a model repository over HTTP.
// main() only parses options and wires the parts together.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include "absl/strings/str_join.h"
#include "backend/aoti_backend.h"
#include "backend/blas_threads.h"
#include "backend/onednn_probe.h"
#include "backend/operator_libraries.h"
#include "backend/pytorch_backends.h"
#include "backend/torchscript_backend.h"
#include "core/cpu_quota.h"
#include "core/heap.h"
#include "core/openmp_env.h"
#include "metrics/inference_metrics.h"
#include "metrics/text_format.h"
#include "repository/model_repository.h"
#include "repository/repository_poller.h"
#include "server/grpc_server.h"
#include "server/http/http_server.h"
#include "server/http/tls_context.h"
#include "server/http_edge.h"
#include "server/inference_api.h"
#include "server/logging.h"
#include "server/management_api.h"
#include "serving/inference_service.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace {

struct ServerFlags {
  std::string model_repository;
  std::string http_address = "0.0.0.0";
  int http_port = 8000;
  int http_threads = 0;
  int grpc_port = 8001;
  std::string grpc_address;        // "" = --http-address
  int grpc_max_message_bytes = 0;  // 0 = --max-request-bytes
  bool grpc_use_ssl = false;
  bool grpc_use_ssl_mutual = false;
  std::string grpc_server_cert, grpc_server_key, grpc_root_cert;
  std::string tls_cert, tls_key, tls_client_ca;
  int metrics_port = -1;
  std::string model_control_mode = "none";
  std::vector<std::string> load_models;
  std::string default_model;
  int log_verbose = 0;
  std::string log_format = "text";
  size_t max_request_bytes = 64 << 20;
  int64_t max_elements = int64_t{1} << 28;
  size_t max_queue_size = 1024;
  int exit_timeout_secs = 30;
  int inter_op_threads = 1;
  int cpus = 0;
  bool cpu_budget = true;
  bool inline_execution = true;
  int worker_spin_us = 0;
  int autotune_budget_ms = 3000;
  bool metrics = true;
  bool log_requests = false;
  int slow_request_ms = 1000;
  std::string management_address = "127.0.0.1";
  int management_port = 8003;
  std::string management_token;
  int repository_poll_secs = 15;
  int drain_secs = 0;
  std::string aoti_extract_dir;
  std::vector<std::string> operator_libraries;
  bool torchvision_operators = true;
  bool strict_readiness = true;
  HttpEdgeFlags http_edge;  // limits of the HTTP edge (server/http_edge.h)
};

std::string DefaultRepository(const char* argv0) {
  // The bundled examples: <prefix>/share/ptserve/models when installed, else
  // ./examples/models from a source checkout.
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  for (const fs::path& p : {exe.parent_path().parent_path() / "share/ptserve/models",
                            fs::path("examples/models")}) {
    if (fs::is_directory(p, ec)) return p.string();
  }
  return "examples/models";
}

void AddFlags(CLI::App& app, ServerFlags& f) {
  app.add_option("--model-repository", f.model_repository,
                 "Model repository directory (Triton layout: <model>/config.pbtxt, "
                 "<model>/<version>/model.pt). Default: the bundled examples")
      ->envname("PTSERVE_MODEL_REPOSITORY");
  app.add_option("--http-address", f.http_address, "Address the HTTP server binds")
      ->envname("PTSERVE_HTTP_ADDRESS")->capture_default_str();
  app.add_option("--http-port", f.http_port, "HTTP port (0: any free port, printed at start)")
      ->envname("PTSERVE_HTTP_PORT")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--http-thread-count", f.http_threads,
                 "Network threads (0: 1 per 2 CPUs, at least 1)")
      ->envname("PTSERVE_HTTP_THREAD_COUNT")->capture_default_str()->check(CLI::Range(0, 256));
  app.add_option("--grpc-port", f.grpc_port,
                 "gRPC port: KServe v2 GRPCInferenceService and grpc.health.v1.Health (0: any "
                 "free port, printed at start; -1: off)")
      ->envname("PTSERVE_GRPC_PORT")
      ->capture_default_str()
      ->check(CLI::Range(-1, 65535));
  app.add_option("--grpc-address", f.grpc_address,
                 "Address the gRPC server binds (default: "
                 "--http-address)")
      ->envname("PTSERVE_GRPC_ADDRESS");
  app.add_option("--grpc-max-message-bytes", f.grpc_max_message_bytes,
                 "Largest gRPC message received or sent; a larger request gets "
                 "RESOURCE_EXHAUSTED (0: --max-request-bytes)")
      ->envname("PTSERVE_GRPC_MAX_MESSAGE_BYTES")
      ->capture_default_str()
      ->check(CLI::Range(0, 2147483647));
  // TLS on the gRPC port, with Triton's flag names.
  app.add_flag("--grpc-use-ssl", f.grpc_use_ssl,
               "gRPC over TLS (needs --grpc-server-cert and --grpc-server-key)")
      ->envname("PTSERVE_GRPC_USE_SSL");
  app.add_flag("--grpc-use-ssl-mutual", f.grpc_use_ssl_mutual,
               "Mutual TLS on gRPC: clients must present a certificate signed by "
               "--grpc-root-cert")
      ->envname("PTSERVE_GRPC_USE_SSL_MUTUAL");
  app.add_option("--grpc-server-cert", f.grpc_server_cert, "PEM certificate chain for gRPC TLS")
      ->envname("PTSERVE_GRPC_SERVER_CERT");
  app.add_option("--grpc-server-key", f.grpc_server_key, "PEM private key for gRPC TLS")
      ->envname("PTSERVE_GRPC_SERVER_KEY");
  app.add_option("--grpc-root-cert", f.grpc_root_cert,
                 "PEM CA certificates that sign client certificates (mutual TLS)")
      ->envname("PTSERVE_GRPC_ROOT_CERT");
  // HTTPS on the HTTP port (and TLS on gRPC unless the --grpc-*-cert flags say otherwise).
  app.add_option("--tls-cert", f.tls_cert,
                 "PEM certificate chain: the HTTP port speaks HTTPS (and gRPC TLS, unless "
                 "--grpc-use-ssl is given); SIGHUP re-reads the files")
      ->envname("PTSERVE_TLS_CERT");
  app.add_option("--tls-key", f.tls_key, "PEM private key of --tls-cert")
      ->envname("PTSERVE_TLS_KEY");
  app.add_option("--tls-client-ca", f.tls_client_ca,
                 "PEM CA certificates: clients must present a certificate they sign (mutual TLS)")
      ->envname("PTSERVE_TLS_CLIENT_CA");
  app.add_flag("--metrics", f.metrics,
                 "Prometheus metrics: GET /metrics on the HTTP port (and on --metrics-port)")
      ->envname("PTSERVE_METRICS")->capture_default_str();
  app.add_option("--metrics-port", f.metrics_port,
                 "Also serve GET /metrics on this port (-1: only on the HTTP port)")
      ->envname("PTSERVE_METRICS_PORT")->capture_default_str()->check(CLI::Range(-1, 65535));
  app.add_option("--model-control-mode", f.model_control_mode,
                 "none: load every model at start; poll: also apply changes to the repository "
                 "every --repository-poll-secs; explicit: load only --load-model models, then "
                 "only through the management API")
      ->envname("PTSERVE_MODEL_CONTROL_MODE")->capture_default_str()
      ->check(CLI::IsMember({"none", "explicit", "poll"}));
  app.add_option("--repository-poll-secs", f.repository_poll_secs,
                 "Poll interval in poll mode; a change is applied once it has been stable for "
                 "one interval")
      ->envname("PTSERVE_REPOSITORY_POLL_SECS")->capture_default_str()->check(CLI::Range(1, 86400));
  app.add_option("--management-address", f.management_address,
                 "Address of the management API (repository index/load/unload)")
      ->envname("PTSERVE_MANAGEMENT_ADDRESS")->capture_default_str();
  app.add_option("--management-port", f.management_port,
                 "Port of the management API, off the public port (0: any free port; -1: off)")
      ->envname("PTSERVE_MANAGEMENT_PORT")->capture_default_str()->check(CLI::Range(-1, 65535));
  app.add_option("--management-token", f.management_token,
                 "Bearer token the management API requires (empty: none)")
      ->envname("PTSERVE_MANAGEMENT_TOKEN");
  app.add_option("--drain-secs", f.drain_secs,
                 "After SIGTERM: keep accepting for this long (readiness already false, every "
                 "response says Connection: close) so load balancers can stop routing here")
      ->envname("PTSERVE_DRAIN_SECS")->capture_default_str()->check(CLI::Range(0, 3600));
  app.add_option("--load-model", f.load_models,
                 "Model to load at start in explicit mode (repeatable; '*' = all)")
      ->envname("PTSERVE_LOAD_MODEL")->delimiter(',');
  app.add_option("--default-model", f.default_model,
                 "Model served by POST /predict (default: 'mlp' if present, else the only model)")
      ->envname("PTSERVE_DEFAULT_MODEL");
  app.add_option("--log-verbose", f.log_verbose, "Verbose logging level (0: info, >=1: debug)")
      ->envname("PTSERVE_LOG_VERBOSE")->capture_default_str();
  app.add_option("--log-format", f.log_format, "text or json (one JSON object per line)")
      ->envname("PTSERVE_LOG_FORMAT")->capture_default_str()->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--log-requests", f.log_requests,
                 "Access log: one line per inference request on stdout (request id, model, "
                 "version, variant, status, total/queue/compute time, batch size)")
      ->envname("PTSERVE_LOG_REQUESTS")->capture_default_str();
  app.add_option("--slow-request-ms", f.slow_request_ms,
                 "Log a warning for every request slower than this, with its timing (0: off)")
      ->envname("PTSERVE_SLOW_REQUEST_MS")->capture_default_str();
  app.add_option("--max-request-bytes", f.max_request_bytes,
                 "Largest request body accepted; larger ones get 413")
      ->envname("PTSERVE_MAX_REQUEST_BYTES")->capture_default_str();
  app.add_option("--max-tensor-elements", f.max_elements,
                 "Most elements one input tensor may have")
      ->envname("PTSERVE_MAX_TENSOR_ELEMENTS")->capture_default_str();
  app.add_option("--max-queue-size", f.max_queue_size,
                 "Default bound of each model's queue when its config sets none; a full queue "
                 "answers 503 with Retry-After")
      ->envname("PTSERVE_MAX_QUEUE_SIZE")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--exit-timeout-secs", f.exit_timeout_secs,
                 "Bound on the whole graceful shutdown after SIGTERM/SIGINT")
      ->envname("PTSERVE_EXIT_TIMEOUT_SECS")->capture_default_str();
  app.add_option("--inter-op-threads", f.inter_op_threads,
                 "libtorch inter-op thread pool size (process-wide)")
      ->envname("PTSERVE_INTER_OP_THREADS")->capture_default_str();
  app.add_option("--cpus", f.cpus,
                 "CPUs to plan threads for (0: the container's CPU quota or affinity)")
      ->envname("PTSERVE_CPUS")->capture_default_str();
  app.add_flag("--cpu-budget", f.cpu_budget,
                 "Share the CPUs among all models' executions: an execution waits for as many "
                 "free CPUs as it has intra-op threads, so models never oversubscribe the machine")
      ->envname("PTSERVE_CPU_BUDGET")->capture_default_str();
  app.add_option("--inline-execution", f.inline_execution,
                 "Run a request on the network thread that received it when its model is idle "
                 "(nothing queued, an instance free, requests arriving no faster than the model "
                 "answers them): saves the hand-off to the instance's thread at low load")
      ->envname("PTSERVE_INLINE_EXECUTION")
      ->capture_default_str();
  app.add_option("--autotune-budget-ms", f.autotune_budget_ms,
                 "Measuring time a model with the AUTOTUNE parameter gets at each load to choose "
                 "its instances x intra-op threads x batch size")
      ->envname("PTSERVE_AUTOTUNE_BUDGET_MS")
      ->capture_default_str()
      ->check(CLI::Range(10, 600000));
  app.add_option("--worker-spin-us", f.worker_spin_us,
                 "How long an idle instance thread polls for the next request before it sleeps "
                 "(0: sleeps at once; a spin costs a CPU while it lasts)")
      ->envname("PTSERVE_WORKER_SPIN_US")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--strict-readiness", f.strict_readiness,
                 "true: /v2/health/ready only when every model that should be loaded is ready; "
                 "false: ready once the server is up, even if some models are not")
      ->envname("PTSERVE_STRICT_READINESS")->capture_default_str();
  AddHttpEdgeFlags(app, f.http_edge);
  app.add_option("--aoti-extract-dir", f.aoti_extract_dir,
                 "Folder where AOTInductor packages (.pt2) are unpacked for loading (default: "
                 "$TMPDIR or /tmp; point it at a writable volume where /tmp is read-only)")
      ->envname("PTSERVE_AOTI_EXTRACT_DIR");
  app.add_option("--operator-library", f.operator_libraries,
                 "Shared library that registers PyTorch operators (TORCH_LIBRARY), loaded at "
                 "start before any model (repeatable; comma-separated in the variable). Each is "
                 "first loaded in a probe process; one that fails or crashes there stops the "
                 "server with the reason. Per model: parameter OPERATOR_LIBRARIES")
      ->envname("PTSERVE_OPERATOR_LIBRARY")->delimiter(',');
  app.add_option("--torchvision-operators", f.torchvision_operators,
                 "Load torchvision's operators (torchvision::nms, roi_align, ...) at start when "
                 "Debian's python3-torchvision is installed")
      ->envname("PTSERVE_TORCHVISION_OPERATORS")->capture_default_str();
}

// Loads torchvision's operators when installed and the --operator-library
// ones; false when one of the latter fails (the reason is logged).
bool LoadOperatorLibraries(const ServerFlags& flags, OperatorLibraries& libraries) {
  if (flags.torchvision_operators) {
    if (const std::optional<std::string> torchvision = FindTorchvisionOperators()) {
      if (absl::Status s = libraries.Load(*torchvision, "torchvision"); !s.ok()) {
        spdlog::warn("torchvision's operators are not loaded (models that use them fail to "
                     "load): {}", std::string(s.message()));
      }
    }
  }
  for (const std::string& path : flags.operator_libraries) {
    if (absl::Status s = libraries.Load(path, "--operator-library"); !s.ok()) {
      spdlog::error("--operator-library: {}", std::string(s.message()));
      return false;
    }
  }
  std::vector<std::string> loaded;
  for (const OperatorLibraries::Library& library : libraries.Loaded()) {
    loaded.push_back(library.path + " (" + library.origin + ")");
  }
  spdlog::info("operator libraries: {}",
               loaded.empty() ? std::string("none (no torchvision operators: python3-torchvision "
                                            "is not installed, or --torchvision-operators=false)")
                              : absl::StrJoin(loaded, ", "));
  return true;
}

int Run(int argc, char** argv) {
  CLI::App app{"ptserve: a C++ inference server for TorchScript models (KServe v2 REST and "
               "POST /predict). Every flag can also be set by the environment variable shown."};
  ServerFlags flags;
  AddFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  SetUpLogging({flags.log_format == "json", flags.log_verbose > 0});
  if (flags.model_repository.empty()) flags.model_repository = DefaultRepository(argv[0]);
  if (const std::string binding = OpenMpBindingWarning(); !binding.empty()) {
    spdlog::warn("{}", binding);
  }
  const int cpus = flags.cpus > 0 ? flags.cpus : AvailableCpus();
  SetInterOpThreads(flags.inter_op_threads);
  const std::string blas = ConfigureBlasThreads();
  if (const std::string& onednn = OneDnnFailure(); !onednn.empty()) {  // before any thread
    spdlog::warn("oneDNN does not work on this CPU ({}): OPTIMIZE leaves models in the plain "
                 "layout (frozen, without optimize_for_inference's oneDNN conversion) and int8 "
                 "models use the FBGEMM engine", onednn);
  }
  spdlog::info("ptserve 0.1.0; {}, {}; planning for {} CPU(s); {}; {}", TorchBuildInfo(),
               AotiAvailable() ? "AOTInductor packages" : "no AOTInductor (libtorch < 2.6)", cpus,
               blas, HeapAllocatorName());
  // Before any thread starts (each is probed in a forked child first), and
  // before any model: the models may call their operators.
  OperatorLibraries operator_libraries;
  if (!LoadOperatorLibraries(flags, operator_libraries)) return 1;

  metrics::InferenceMetrics metrics(metrics::InferenceMetrics::Options{.enabled = flags.metrics});
  PyTorchBackends backends({.extract_dir = flags.aoti_extract_dir});
  ModelRepository::Options repo_options;
  repo_options.root = flags.model_repository;
  repo_options.backend = &backends.dispatch();
  repo_options.available_cpus = cpus;
  repo_options.inter_op_threads = flags.inter_op_threads;
  repo_options.default_max_queue_size = flags.max_queue_size;
  repo_options.metrics = &metrics;
  repo_options.max_tensor_elements = flags.max_elements;  // also bounds padded batches
  repo_options.strict_readiness = flags.strict_readiness;
  repo_options.inline_when_idle = flags.inline_execution;
  repo_options.worker_spin_us = flags.worker_spin_us;
  repo_options.autotune_budget_ms = flags.autotune_budget_ms;
  repo_options.exchange_blas_threads = ExchangeBlasThreads;
  repo_options.load_operator_library = [&operator_libraries](const std::string& path,
                                                             const std::string& origin) {
    const size_t before = operator_libraries.Loaded().size();
    absl::Status s = operator_libraries.Load(path, origin);
    if (s.ok() && operator_libraries.Loaded().size() > before) {
      spdlog::info("operator library {} loaded for {}", path, origin);
    }
    return s;
  };
  if (flags.cpu_budget) repo_options.cpu_budget = std::make_shared<CpuBudget>(cpus);
  auto repository = ModelRepository::Create(repo_options);
  if (!repository.ok()) {
    spdlog::error("{}", std::string(repository.status().message()));
    return 1;
  }
  spdlog::info("model repository {}", flags.model_repository);

  // Signals are handled by a thread that waits for them (no async handler).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // re-read the TLS files
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  InferenceService::Options service_options;
  service_options.metrics = &metrics;
  service_options.ready_needs_a_model =
      flags.model_control_mode != "explicit" && flags.strict_readiness;
  service_options.log_requests = flags.log_requests;
  service_options.slow_request_us = int64_t{flags.slow_request_ms} * 1000;
  // With a token, the repository extension is on the inference port too (as Triton serves it).
  const bool repository_on_inference_port =
      flags.management_port >= 0 && !flags.management_token.empty();
  service_options.repository_extension = repository_on_inference_port;
  InferenceService service(service_options, repository->get());
  InferenceApi::Options api_options;
  api_options.limits.max_elements = flags.max_elements;
  api_options.default_model = flags.default_model;
  api_options.metrics = &metrics;
  if (api_options.default_model.empty()) {
    const auto names = (*repository)->ListModels();
    if (std::find(names.begin(), names.end(), "mlp") != names.end()) {
      api_options.default_model = "mlp";
    } else if (names.size() == 1) {
      api_options.default_model = names[0];
    }
  }
  InferenceApi api(api_options, &service);
  auto router = std::make_shared<http::Router>();
  api.Register(*router);
  std::unique_ptr<ManagementApi> inference_port_management;
  if (repository_on_inference_port) {
    inference_port_management = std::make_unique<ManagementApi>(
        ManagementApi::Options{.token = flags.management_token,
                               .address = flags.management_address,
                               .inference_port = true,
                               .scheme = flags.tls_cert.empty() ? "http" : "https"},
        repository->get());
    inference_port_management->Register(*router);
  }

  http::HttpServer::Options http_options;
  http_options.address = flags.http_address;
  http_options.port = flags.http_port;
  http_options.threads = flags.http_threads > 0 ? flags.http_threads : std::max(1, cpus / 2);
  http_options.max_body_bytes = flags.max_request_bytes;
  const std::shared_ptr<HttpEdge> http_edge =
      ConfigureHttpEdge(flags.http_edge, metrics, &http_options);
  if (!flags.tls_cert.empty() || !flags.tls_key.empty() || !flags.tls_client_ca.empty()) {
    if (flags.tls_cert.empty() || flags.tls_key.empty()) {
      spdlog::error("HTTPS needs both --tls-cert and --tls-key (given: cert '{}', key '{}')",
                    flags.tls_cert, flags.tls_key);
      return 1;
    }
    auto tls = http::TlsContext::Create({.cert_file = flags.tls_cert,
                                         .key_file = flags.tls_key,
                                         .client_ca_file = flags.tls_client_ca});
    if (!tls.ok()) {
      spdlog::error("{}", std::string(tls.status().message()));
      return 1;
    }
    http_options.tls = std::move(*tls);
  }
  auto server = http::HttpServer::Create(http_options, router);
  if (!server.ok()) {
    spdlog::error("{}", std::string(server.status().message()));
    return 1;
  }
  // Serve health and metadata while the models load: readiness says when.
  (*server)->Start();
  metrics::Registration connections = metrics.RegisterHttpConnections(
      [s = server->get()] { return static_cast<double>(s->open_connections()); });
  std::unique_ptr<http::HttpServer> metrics_server;
  if (flags.metrics && flags.metrics_port >= 0) {
    auto metrics_router = std::make_shared<http::Router>();
    metrics_router->Add("GET", "/metrics",
                        [&metrics](http::HttpRequest&, std::shared_ptr<http::Responder> r) {
                          r->Send({200, metrics::kTextContentType, {}, metrics.Scrape()});
                        });
    http::HttpServer::Options options;
    options.address = flags.http_address;
    options.port = flags.metrics_port;
    options.threads = 1;
    auto created = http::HttpServer::Create(options, metrics_router);
    if (!created.ok()) {
      spdlog::error("{}", std::string(created.status().message()));
      return 1;
    }
    metrics_server = std::move(*created);
    metrics_server->Start();
    spdlog::info("metrics listening on {}:{}", flags.http_address, metrics_server->port());
  }
  spdlog::info("HTTP server listening on {}:{}{}", flags.http_address, (*server)->port(),
               !http_options.tls            ? ""
               : http_options.tls->mutual() ? " (HTTPS, mutual TLS)"
                                            : " (HTTPS)");

  std::unique_ptr<GrpcServer> grpc_server;
  if (flags.grpc_port >= 0) {
    GrpcServer::Options options;
    options.address = flags.grpc_address.empty() ? flags.http_address : flags.grpc_address;
    options.port = flags.grpc_port;
    options.max_message_bytes =
        flags.grpc_max_message_bytes > 0
            ? flags.grpc_max_message_bytes
            : static_cast<int>(std::min<size_t>(flags.max_request_bytes, 2147483647));
    options.limits.max_elements = flags.max_elements;
    options.infer_threads = http_options.threads;
    options.management_enabled = flags.management_port >= 0;
    options.management_address = flags.management_address;
    options.management_token = flags.management_token;
    const bool ssl = flags.grpc_use_ssl || flags.grpc_use_ssl_mutual;
    if (ssl != !flags.grpc_server_cert.empty() || ssl != !flags.grpc_server_key.empty() ||
        flags.grpc_use_ssl_mutual != !flags.grpc_root_cert.empty()) {
      spdlog::error(
          "gRPC TLS: --grpc-use-ssl goes with --grpc-server-cert and --grpc-server-key, and "
          "--grpc-use-ssl-mutual with --grpc-root-cert too (given: use-ssl {}, use-ssl-mutual {}, "
          "server-cert '{}', server-key '{}', root-cert '{}')",
          flags.grpc_use_ssl, flags.grpc_use_ssl_mutual, flags.grpc_server_cert,
          flags.grpc_server_key, flags.grpc_root_cert);
      return 1;
    }
    if (ssl) {
      options.tls_cert_file = flags.grpc_server_cert;
      options.tls_key_file = flags.grpc_server_key;
      options.tls_client_ca_file = flags.grpc_root_cert;
    } else if (http_options.tls) {  // --tls-cert: TLS on every inference port
      options.tls_cert_file = flags.tls_cert;
      options.tls_key_file = flags.tls_key;
      options.tls_client_ca_file = flags.tls_client_ca;
    }
    auto created = GrpcServer::Create(options, &service);
    if (created.ok()) {
      grpc_server = std::move(*created);
      spdlog::info("gRPC server listening on {}:{}{}", options.address, grpc_server->port(),
                   !options.tls_client_ca_file.empty() ? " (mutual TLS)"
                   : !options.tls_cert_file.empty()    ? " (TLS)"
                                                       : "");
    } else if (created.status().code() == absl::StatusCode::kUnimplemented &&
               app.get_option("--grpc-port")->count() == 0) {
      // Built without gRPC and not asked for it: the default port is not a promise.
      spdlog::warn("no gRPC: {}", std::string(created.status().message()));
    } else {
      spdlog::error("--grpc-port {}: {}", flags.grpc_port, std::string(created.status().message()));
      return 1;
    }
  }

  std::unique_ptr<ManagementApi> management;
  std::unique_ptr<http::HttpServer> management_server;
  if (flags.management_port >= 0) {
    management =
        std::make_unique<ManagementApi>(ManagementApi::Options{.token = flags.management_token,
                                                               .address = flags.management_address,
                                                               .inference_port = false,
                                                               .scheme = "http"},
                                        repository->get());
    auto management_router = std::make_shared<http::Router>();
    management->Register(*management_router);
    http::HttpServer::Options options;
    options.address = flags.management_address;
    options.port = flags.management_port;
    options.threads = 1;
    options.max_body_bytes = 16 << 20;
    options.memory_budget = http_options.memory_budget;  // one budget for the process
    options.on_rejected = http_options.on_rejected;
    auto created = http::HttpServer::Create(options, management_router);
    if (!created.ok()) {
      spdlog::error("{}", std::string(created.status().message()));
      return 1;
    }
    management_server = std::move(*created);
    management_server->Start();
    spdlog::info("management API listening on {}:{}{}", flags.management_address,
                 management_server->port(),
                 flags.management_token.empty() ? " (no token: loopback only is advised)" : "");
  }

  if (flags.model_control_mode == "explicit") {
    for (const std::string& name : flags.load_models) {
      if (name == "*") {
        (*repository)->LoadAll();
      } else {
        (void)(*repository)->Load(name);
      }
    }
  } else {
    (*repository)->LoadAll();
  }
  if ((*repository)->ListModels().empty()) {
    spdlog::warn("the model repository {} holds no model directory (or is not readable); "
                 "readiness stays false until a model loads", flags.model_repository);
  }
  spdlog::info("{}", (*repository)->AllReady() ? "all models ready" : "some models failed to load");
  std::unique_ptr<RepositoryPoller> poller;
  if (flags.model_control_mode == "poll") {
    poller = std::make_unique<RepositoryPoller>(repository->get(),
                                                std::chrono::seconds(flags.repository_poll_secs));
    poller->Start();
  }

  int signal_number = 0;
  for (;;) {
    sigwait(&signals, &signal_number);
    if (signal_number != SIGHUP) break;
    if (!http_options.tls) {
      spdlog::info("received SIGHUP: nothing to reload (no --tls-cert)");
      continue;
    }
    // New connections get the new certificate; open ones keep theirs. gRPC watches its files
    // itself (GrpcServer::Options::tls_refresh).
    absl::Status reloaded = http_options.tls->Reload();
    if (reloaded.ok()) {
      spdlog::info("received SIGHUP: HTTPS certificate reloaded from {} (load {})", flags.tls_cert,
                   http_options.tls->generation());
    } else {
      spdlog::error("received SIGHUP: HTTPS keeps its current certificate: {}",
                    std::string(reloaded.message()));
    }
  }
  spdlog::info("received {}: shutting down (readiness is now false)",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  service.SetShuttingDown();
  if (poller) poller->Stop();
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(std::max(1, flags.exit_timeout_secs));
  if (flags.drain_secs > 0) {
    (*server)->SetDraining(true);
    std::this_thread::sleep_until(
        std::min(deadline, start + std::chrono::seconds(flags.drain_secs)));
  }
  const auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (grpc_server) {  // in parallel with the HTTP server's grace period
    std::thread grpc_shutdown(
        [&] { grpc_server->Shutdown(std::max(grace, std::chrono::milliseconds(100))); });
    (*server)->Shutdown(std::max(grace, std::chrono::milliseconds(100)));
    grpc_shutdown.join();
  } else {
    (*server)->Shutdown(std::max(grace, std::chrono::milliseconds(100)));
  }
  if (management_server) management_server->Shutdown(std::chrono::milliseconds(100));
  if (metrics_server) metrics_server->Shutdown(std::chrono::milliseconds(100));
  connections.Release();
  (*repository)->UnloadAll();
  spdlog::info("bye");
  return 0;
}

}  // namespace
}  // namespace ptserve

int main(int argc, char** argv) {
  ptserve::ReexecWithThreadPoolDefaults(argv);
  return ptserve::Run(argc, argv);
}
