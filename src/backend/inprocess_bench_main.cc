// ptserve-inprocess-bench: how fast a TorchScript model runs in-process
// through ptserve's own backend (no HTTP, no queue): the physical limit the
// server is compared with in bench/.
//
//   ptserve-inprocess-bench --model examples/models/mlp/1/model.pt --shape 784
//       --batch-sizes 1,32 --instances 1 --intra-op-threads 2 --seconds 3  (one command)
//
// Prints one JSON object per (batch size) line: latency percentiles of one
// forward() and rows/s summed over the instances, which run concurrently.
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "core/openmp_env.h"
#include "backend/torchscript_backend.h"
#include "core/data_type.h"

namespace ptserve {
namespace {

struct Flags {
  std::string model;
  std::vector<int64_t> shape;  // per-example dims
  std::string dtype = "FP32";
  std::vector<int64_t> batch_sizes{1};
  int instances = 1;
  int intra_op_threads = 1;
  double seconds = 3;
  double warmup_seconds = 1;
  // Config `parameters` (KEY=VALUE), e.g. PRECISION=BF16, QUANTIZATION=DYNAMIC_INT8.
  std::vector<std::string> params;
  // When given, the inputs are declared (each with --shape/--dtype), as a
  // config would, so the backend can check OPTIMIZE etc. on sample inputs.
  std::vector<std::string> input_names;
};

Tensor RandomInput(DataType dtype, Shape shape) {
  Tensor t = Tensor::Allocate(dtype, shape).value();
  std::mt19937 rng(1);
  if (dtype == DataType::kFp32) {
    std::uniform_real_distribution<float> u(0.f, 1.f);
    float* p = reinterpret_cast<float*>(t.mutable_data());
    for (int64_t i = 0; i < t.element_count(); ++i) p[i] = u(rng);
  } else if (dtype == DataType::kInt64) {
    int64_t* p = reinterpret_cast<int64_t*>(t.mutable_data());
    for (int64_t i = 0; i < t.element_count(); ++i) p[i] = 1 + static_cast<int64_t>(rng() % 900);
  }
  return t;
}

int Run(int argc, char** argv) {
  CLI::App app{"In-process TorchScript latency/throughput through ptserve's backend"};
  Flags f;
  app.add_option("--model", f.model, "Path to model.pt")->required();
  app.add_option("--shape", f.shape, "Per-example input dims, e.g. 3,224,224")
      ->delimiter(',')->required();
  app.add_option("--dtype", f.dtype, "Input datatype (FP32, INT64)")->capture_default_str();
  app.add_option("--batch-sizes", f.batch_sizes, "Batch sizes to measure")->delimiter(',');
  app.add_option("--instances", f.instances, "Concurrent instances (threads)")->capture_default_str();
  app.add_option("--intra-op-threads", f.intra_op_threads, "Intra-op threads per instance")
      ->capture_default_str();
  app.add_option("--seconds", f.seconds, "Measurement time per batch size")->capture_default_str();
  app.add_option("--warmup-seconds", f.warmup_seconds, "Warm-up time per batch size")
      ->capture_default_str();
  app.add_option("--param", f.params, "Model parameter KEY=VALUE (repeatable)");
  app.add_option("--input-names", f.input_names,
                 "Declare the inputs (comma-separated), as a config.pbtxt would")
      ->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  const auto dtype = DataTypeFromName(f.dtype);
  if (!dtype) {
    std::fprintf(stderr, "unknown dtype %s\n", f.dtype.c_str());
    return 2;
  }
  std::filesystem::path path(f.model);
  TorchScriptBackend backend;
  BackendLoadRequest request;
  request.model_name = path.parent_path().parent_path().filename().string();
  request.version_dir = path.parent_path().string();
  request.model_file = path.filename().string();
  request.batched = true;
  for (const std::string& p : f.params) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "--param %s is not KEY=VALUE\n", p.c_str());
      return 2;
    }
    request.parameters.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  for (const std::string& name : f.input_names) {
    TensorSpec spec;
    spec.name = name;
    spec.dtype = *dtype;
    spec.dims = Shape(f.shape.begin(), f.shape.end());
    request.inputs.push_back(spec);
  }
  auto model = backend.Load(request);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  for (const std::string& note : (*model)->notes()) std::fprintf(stderr, "note: %s\n", note.c_str());
  {
    auto probe = (*model)->CreateInstance({0, f.intra_op_threads, "cpu"});
    if (probe.ok()) std::fprintf(stderr, "serving: %s\n", (*probe)->Describe().c_str());
  }
  for (int64_t batch : f.batch_sizes) {
    Shape shape{batch};
    shape.insert(shape.end(), f.shape.begin(), f.shape.end());
    std::vector<Tensor> inputs((*model)->inputs().size(), RandomInput(*dtype, shape));
    std::vector<std::vector<double>> latencies(f.instances);
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < f.instances; ++i) {
      threads.emplace_back([&, i] {
        auto instance = (*model)->CreateInstance({i, f.intra_op_threads, "cpu"});
        if (!instance.ok()) {
          failed = true;
          return;
        }
        (*instance)->BindToThread();
        using Clock = std::chrono::steady_clock;
        const auto warm_end = Clock::now() + std::chrono::duration<double>(f.warmup_seconds);
        while (Clock::now() < warm_end) (void)(*instance)->Execute(inputs);
        const auto end = Clock::now() + std::chrono::duration<double>(f.seconds);
        while (Clock::now() < end) {
          const auto t0 = Clock::now();
          auto out = (*instance)->Execute(inputs);
          const auto t1 = Clock::now();
          if (!out.ok()) {
            failed = true;
            return;
          }
          latencies[i].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        }
      });
    }
    for (auto& t : threads) t.join();
    if (failed) {
      std::fprintf(stderr, "execution failed at batch %ld\n", static_cast<long>(batch));
      return 1;
    }
    std::vector<double> all;
    double rows_per_s = 0;
    for (const auto& l : latencies) {
      all.insert(all.end(), l.begin(), l.end());
      rows_per_s += l.size() * batch / f.seconds;
    }
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))]; };
    std::printf("{\"model\":\"%s\",\"batch\":%ld,\"instances\":%d,\"intra_op_threads\":%d,"
                "\"runs\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"rows_per_s\":%.1f}\n",
                request.model_name.c_str(), static_cast<long>(batch), f.instances,
                f.intra_op_threads, all.size(), pct(0.5), pct(0.99), rows_per_s);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace ptserve

int main(int argc, char** argv) {
  ptserve::ReexecWithThreadPoolDefaults(argv);
  return ptserve::Run(argc, argv);
}
