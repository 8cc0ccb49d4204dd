// ptserve-bench: HTTP load generator for ptserve (and any KServe v2 / seed /predict server).
// Flags follow perf_analyzer where they overlap; see bench/README.md.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "arrival.h"
#include "core/status_macros.h"
#include "http_client.h"
#include "report.h"
#include "runner.h"
#include "workload.h"
#if PTSERVE_BENCH_GRPC
#include "grpc_runner.h"
#endif

namespace ptserve::bench {
namespace {

struct Flags {
  std::string model_name;
  std::string model_version;
  std::string url = "localhost:8000";
  std::string protocol = "http";
  std::string concurrency_range;
  std::string request_rate_range;
  std::string distribution = "constant";
  int64_t measurement_interval_ms = 5000;
  double stability_percentage = 10;
  int max_trials = 10;
  double percentile = -1;
  std::vector<std::string> shapes;
  std::string input_data = "random";
  int64_t batch_size = 1;
  std::string csv_file;
  std::string endpoint = "v2";
  std::string predict_path = "/predict";
  bool binary = false;
  std::string report_file;
  std::string json_file;
  int64_t warmup_ms = 1000;
  int64_t requests = 0;
  int threads = 1;
  int64_t timeout_ms = 30000;
  int max_connections = 1024;
  uint64_t seed = 1;
};

// "start[:end[:step]]"; step "xF" multiplies (geometric), otherwise adds. Default step 1.
absl::StatusOr<std::vector<double>> ParseRange(const std::string& flag, absl::string_view text) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be start[:end[:step]] (step N or xN), got '", text, "'"));
  };
  if (parts.empty() || parts.size() > 3) return bad();
  double start, end, step = 1;
  bool geometric = false;
  if (!absl::SimpleAtod(parts[0], &start) || start <= 0) return bad();
  end = start;
  if (parts.size() >= 2 && !absl::SimpleAtod(parts[1], &end)) return bad();
  if (parts.size() == 3) {
    absl::string_view s = parts[2];
    if (!s.empty() && (s[0] == 'x' || s[0] == '*')) {
      geometric = true;
      s.remove_prefix(1);
    }
    if (!absl::SimpleAtod(s, &step) || step <= 0 || (geometric && step <= 1)) return bad();
  }
  if (end < start) return bad();
  std::vector<double> values;
  for (double v = start; v <= end * (1 + 1e-9) && values.size() < 10000;
       v = geometric ? v * step : v + step) {
    values.push_back(v);
  }
  return values;
}

absl::Status WriteReports(const Flags& f, const ReportInfo& info,
                          const std::vector<StepResult>& results) {
  auto write = [](const std::string& path, const std::string& contents) -> absl::Status {
    std::ofstream out(path, std::ios::binary);
    out << contents;
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write '", path, "'"));
    return absl::OkStatus();
  };
  if (!f.csv_file.empty()) RETURN_IF_ERROR(write(f.csv_file, CsvReport(info, results)));
  if (!f.json_file.empty()) RETURN_IF_ERROR(write(f.json_file, JsonReport(info, results)));
  if (!f.report_file.empty()) RETURN_IF_ERROR(write(f.report_file, HtmlReport(info, results)));
  return absl::OkStatus();
}

// -i grpc: KServe v2 ModelInfer with raw contents, closed loop (see grpc_runner.h).
// Runs `steps` one after the other on `runner` (HTTP or gRPC), printing each
// step's summary line as it ends (the header once), then writes the reports.
template <typename StepRunner>
absl::Status RunSteps(StepRunner& runner, const std::vector<StepConfig>& steps, const Flags& f,
                      const ReportInfo& info, bool tty) {
  std::vector<StepResult> results;
  for (const StepConfig& step : steps) {
    ASSIGN_OR_RETURN(StepResult r, runner.RunStep(step));
    if (tty) std::fprintf(stderr, "\r\033[K");
    std::string text = TextSummary(info, {r});
    if (!results.empty()) text = text.substr(text.find('\n') + 1);
    std::cout << text << std::flush;
    results.push_back(std::move(r));
  }
  return WriteReports(f, info, results);
}

absl::Status RunGrpc(const Flags& f, const std::string& command_line) {
#if PTSERVE_BENCH_GRPC
  if (!f.request_rate_range.empty()) {
    return absl::UnimplementedError("-i grpc runs closed loops only: use --concurrency-range");
  }
  if (f.model_name.empty()) return absl::InvalidArgumentError("-i grpc needs -m/--model-name");
  std::string target = f.url;
  if (absl::StartsWith(target, "grpc://")) target = target.substr(7);
  WorkloadOptions w;
  w.model_name = f.model_name;
  w.model_version = f.model_version;
  w.batch_size = f.batch_size;
  w.input_data = f.input_data;
  w.seed = f.seed;
  for (const std::string& s : f.shapes) RETURN_IF_ERROR(ParseShapeFlag(s, &w.shapes));
  ASSIGN_OR_RETURN(ModelMetadata metadata,
                   FetchGrpcModelMetadata(target, f.model_name, f.model_version));
  ASSIGN_OR_RETURN(std::vector<InputTensor> inputs, ResolveInputs(metadata, w));
  GrpcRunner::Options o;
  o.target = target;
  o.request = BuildGrpcRequest(inputs, f.model_name, f.model_version);
  o.warmup_ms = f.warmup_ms;
  o.measurement_interval_ms = f.measurement_interval_ms;
  o.requests = f.requests;
  o.timeout_ms = f.timeout_ms;
  ASSIGN_OR_RETURN(std::unique_ptr<GrpcRunner> runner, GrpcRunner::Create(o));
  ASSIGN_OR_RETURN(
      std::vector<double> cs,
      ParseRange("concurrency-range", f.concurrency_range.empty() ? "1" : f.concurrency_range));
  ReportInfo info;
  info.url = "grpc://" + target;
  info.model = f.model_name;
  info.endpoint = "grpc";
  info.binary = true;
  info.distribution = f.distribution;
  info.percentile = f.percentile;
  info.command_line = command_line;
  std::cerr << "ptserve-bench: gRPC ModelInfer at " << target << " (" << o.request.ByteSizeLong()
            << " byte message), "
            << (f.requests > 0 ? absl::StrCat(f.requests, " requests")
                               : absl::StrCat(f.measurement_interval_ms, " ms window"))
            << " per step after " << f.warmup_ms << " ms warm-up\n";
  std::vector<StepConfig> steps;
  for (double c : cs) steps.push_back(StepConfig::Closed(static_cast<int>(c)));
  return RunSteps(*runner, steps, f, info, /*tty=*/false);
#else
  return absl::UnimplementedError("-i grpc: this ptserve-bench is built without gRPC");
#endif
}

absl::Status Run(const Flags& f, const std::string& command_line) {
  if (f.protocol == "grpc") return RunGrpc(f, command_line);
  if (f.protocol != "http") {
    return absl::InvalidArgumentError(absl::StrCat("-i must be http or grpc, got '", f.protocol, "'"));
  }
  if (!f.concurrency_range.empty() && !f.request_rate_range.empty()) {
    return absl::InvalidArgumentError(
        "give either --concurrency-range or --request-rate-range, not both");
  }
  ASSIGN_OR_RETURN(Endpoint endpoint, ParseEndpoint(f.url));
  ASSIGN_OR_RETURN(ArrivalSchedule::Distribution distribution, ParseDistribution(f.distribution));

  WorkloadOptions w;
  if (f.endpoint == "predict") {
    w.api = ApiKind::kPredict;
  } else if (f.endpoint != "v2") {
    return absl::InvalidArgumentError("--endpoint must be predict or v2");
  }
  w.binary = f.binary;
  w.model_name = f.model_name;
  w.model_version = f.model_version;
  w.batch_size = f.batch_size;
  w.input_data = f.input_data;
  w.seed = f.seed;
  w.predict_path = f.predict_path;
  for (const std::string& s : f.shapes) RETURN_IF_ERROR(ParseShapeFlag(s, &w.shapes));

  ModelMetadata metadata;
  const bool generated = f.input_data == "zero" || f.input_data == "random";
  if (!f.model_name.empty() && (generated || w.api == ApiKind::kV2)) {
    absl::StatusOr<ModelMetadata> md = FetchModelMetadata(endpoint, f.model_name, f.model_version);
    if (md.ok()) {
      metadata = *std::move(md);
    } else if (generated && w.api == ApiKind::kV2) {
      return md.status();
    } else {
      std::cerr << "note: no model metadata (" << md.status().message() << ")\n";
    }
  } else if (f.model_name.empty() && w.api == ApiKind::kV2) {
    return absl::InvalidArgumentError("--endpoint v2 needs -m/--model-name");
  }
  if (metadata.inputs.empty() && w.api == ApiKind::kPredict) {
    // The seed's /predict takes {"data": [784 floats]} unless --shape says otherwise.
    TensorMeta t{"data", DataType::kFp32, {784}};
    if (!w.shapes.empty()) t.name = w.shapes.begin()->first;
    metadata.inputs.push_back(t);
  }
  ASSIGN_OR_RETURN(std::vector<InputTensor> inputs, ResolveInputs(metadata, w));
  ASSIGN_OR_RETURN(RequestSpec spec, BuildRequest(inputs, w));

  // One request first, so that a misconfigured run says why instead of only counting errors.
  if (absl::StatusOr<FetchResult> probe = Fetch(endpoint, "POST", spec.path, spec.content_type,
                                                spec.body, 5000, spec.headers);
      !probe.ok()) {
    std::cerr << "warning: probe request failed: " << probe.status().message() << "\n";
  } else if (probe->status < 200 || probe->status >= 300) {
    std::cerr << "warning: probe request answered HTTP " << probe->status << ": "
              << probe->body.substr(0, 300) << "\n";
  }
  Runner::Options o;
  o.endpoint = endpoint;
  o.request = SerializeRequest("POST", spec.path, endpoint, spec.content_type, spec.headers, spec.body);
  o.threads = f.threads;
  o.warmup_ms = f.warmup_ms;
  o.measurement_interval_ms = f.measurement_interval_ms;
  o.requests = f.requests;
  o.stability_percentage = f.stability_percentage;
  o.max_trials = f.max_trials;
  o.percentile = f.percentile;
  o.timeout_ms = f.timeout_ms;
  o.distribution = distribution;
  o.seed = f.seed;
  o.max_connections = f.max_connections;
  const bool tty = isatty(STDERR_FILENO);
  if (tty) {
    o.progress = [](const std::string& line) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      std::fflush(stderr);
    };
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Runner> runner, Runner::Create(o));

  std::vector<StepConfig> steps;
  const bool open_loop = !f.request_rate_range.empty();
  if (open_loop) {
    ASSIGN_OR_RETURN(std::vector<double> rates, ParseRange("request-rate-range", f.request_rate_range));
    for (double r : rates) steps.push_back(StepConfig::Open(r));
  } else {
    ASSIGN_OR_RETURN(std::vector<double> cs, ParseRange("concurrency-range",
                                                        f.concurrency_range.empty() ? "1" : f.concurrency_range));
    for (double c : cs) steps.push_back(StepConfig::Closed(static_cast<int>(c)));
  }

  ReportInfo info;
  info.url = f.url;
  info.model = f.model_name;
  info.endpoint = f.endpoint;
  info.binary = f.binary;
  info.open_loop = open_loop;
  info.distribution = f.distribution;
  info.percentile = f.percentile;
  info.command_line = command_line;

  std::cerr << "ptserve-bench: POST http://" << endpoint.host_header << spec.path << " ("
            << spec.body.size() << " byte body), "
            << (f.requests > 0 ? absl::StrCat(f.requests, " requests")
                               : absl::StrCat(f.measurement_interval_ms, " ms windows"))
            << " per step after " << f.warmup_ms << " ms warm-up\n";
  return RunSteps(*runner, steps, f, info, tty);
}

}  // namespace
}  // namespace ptserve::bench

int main(int argc, char** argv) {
  ptserve::bench::Flags f;
  CLI::App app{"ptserve-bench: HTTP load generator (closed loop sweeps, open loop with Poisson "
               "arrivals); flags follow perf_analyzer where they overlap"};
  app.add_option("-m,--model-name", f.model_name, "Model name");
  app.add_option("-x,--model-version", f.model_version, "Model version (default: unversioned)");
  app.add_option("-u,--url", f.url, "Server, host:port or http://host:port")->capture_default_str();
  app.add_option("-i,--protocol", f.protocol,
                 "http or grpc (KServe v2 ModelInfer, closed loop; -u host:8001)")
      ->capture_default_str();
  app.add_option("--concurrency-range", f.concurrency_range,
                 "Closed loop: start:end:step (step N adds, xN multiplies), e.g. 1:64:x2");
  app.add_option("--request-rate-range", f.request_rate_range,
                 "Open loop, requests/s: start:end:step (step N adds, xN multiplies)");
  app.add_option("--request-distribution", f.distribution, "constant|poisson (open loop)")
      ->capture_default_str();
  app.add_option("-p,--measurement-interval", f.measurement_interval_ms,
                 "Measurement window, ms")->capture_default_str();
  app.add_option("-s,--stability-percentage", f.stability_percentage,
                 "Windows are stable when the last 3 agree within this %")->capture_default_str();
  app.add_option("-r,--max-trials", f.max_trials, "Max measurement windows per step")
      ->capture_default_str();
  app.add_option("--percentile", f.percentile,
                 "Latency percentile used for stability (default: mean) and reported too");
  app.add_option("--shape", f.shapes, "name:d1,d2,... for inputs with variable dims (repeatable)");
  app.add_option("--input-data", f.input_data, "zero|random|PATH (.json or .npy)")
      ->capture_default_str();
  app.add_option("-b,--batch-size", f.batch_size, "Replaces a -1 batch dimension")
      ->capture_default_str();
  app.add_option("-f", f.csv_file, "Write CSV results (perf_analyzer-like columns)");
  app.add_option("--endpoint", f.endpoint, "predict (seed's /predict) or v2 (KServe)")
      ->capture_default_str();
  app.add_option("--predict-path", f.predict_path, "Path for --endpoint predict")->capture_default_str();
  app.add_flag("--binary", f.binary, "KServe binary tensor extension (v2)");
  app.add_option("--report", f.report_file, "Write a self-contained HTML report");
  app.add_option("--json", f.json_file, "Write JSON results");
  app.add_option("--warmup-ms", f.warmup_ms, "Unmeasured warm-up per step, ms")->capture_default_str();
  app.add_option("--requests", f.requests, "Measure exactly N requests per step instead of windows");
  app.add_option("--threads", f.threads, "Load generator threads (each with its own epoll)")
      ->capture_default_str();
  app.add_option("--timeout-ms", f.timeout_ms, "Per-request timeout, ms")->capture_default_str();
  app.add_option("--max-connections", f.max_connections, "Open loop connection cap")
      ->capture_default_str();
  app.add_option("--seed", f.seed, "Random seed (data, Poisson arrivals)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::vector<std::string> args(argv, argv + argc);
  absl::Status s = ptserve::bench::Run(f, absl::StrJoin(args, " "));
  if (!s.ok()) {
    std::cerr << "ptserve-bench: " << s.message() << "\n";
    return s.code() == absl::StatusCode::kUnimplemented ? 3 : 1;
  }
  return 0;
}
