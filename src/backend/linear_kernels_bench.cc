// ptserve-linear-kernels-bench: the p50 time of one fp32 Linear layer
// (y = x W^T + b) through each path libtorch has, per shape, batch size and
// thread count: what linear_kernels.h's choice of the matrix-vector path rests on.
//
//   ptserve-linear-kernels-bench --layers 784x512,512x256,256x10 --batch-sizes 1,2,4,8,64
//       --threads 1,2   (one command)
//
// Paths: at::linear (libtorch's GEMM through the BLAS), addmm with the weight
// transposed once beforehand, at::addmv per row (the BLAS's gemv) on the
// row-major weight and on a column-major copy,
// ptserve::linear (the operator linear_kernels.cc registers), oneDNN
// (at::mkldnn_linear on a weight converted once; the input and output are
// converted per call) and XNNPACK (prepacked::linear_clamp_run on a weight
// packed once). A path this libtorch lacks prints "unavailable".
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <dlfcn.h>
#include <torch/script.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "backend/linear_kernels.h"

namespace ptserve {
namespace {

// The BLAS's own thread pool (OpenBLAS), sized like at::set_num_threads.
void SetBlasThreads(int threads) {
  using SetFn = void (*)(int);
  auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set != nullptr) set(threads);
}

// p50 of `fn` in microseconds over `seconds` (after a tenth as warm-up).
double P50Us(const std::function<void()>& fn, double seconds) {
  using Clock = std::chrono::steady_clock;
  const auto warm_end = Clock::now() + std::chrono::duration<double>(seconds / 10);
  while (Clock::now() < warm_end) fn();
  std::vector<double> times;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    const auto t0 = Clock::now();
    fn();
    times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int Run(int argc, char** argv) {
  CLI::App app{"p50 of one fp32 Linear layer through each of libtorch's paths"};
  std::vector<std::string> layers{"784x512", "512x256", "256x10"};
  std::vector<int64_t> batch_sizes{1, 2, 4, 8, 64};
  std::vector<int> threads{1, 2};
  double seconds = 0.3;
  app.add_option("--layers", layers, "IN x OUT features per layer")->delimiter(',');
  app.add_option("--batch-sizes", batch_sizes, "Rows of the input")->delimiter(',');
  app.add_option("--threads", threads, "Intra-op (and BLAS) threads")->delimiter(',');
  app.add_option("--seconds", seconds, "Measurement time per case")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  c10::InferenceMode inference;
  auto& dispatcher = c10::Dispatcher::singleton();
  auto xnn_prepack = dispatcher.findSchema({"prepacked::linear_clamp_prepack", ""});
  auto xnn_run = dispatcher.findSchema({"prepacked::linear_clamp_run", ""});
  std::printf("%-9s %5s %7s %10s %10s %10s %10s %10s %10s %10s\n", "layer", "batch", "threads",
              "linear", "addmm_wt", "addmv_row", "addmv_col", "ptserve", "onednn", "xnnpack");
  for (int t : threads) {
    at::set_num_threads(t);
    SetBlasThreads(t);
    for (const std::string& layer : layers) {
      const size_t x = layer.find('x');
      const int64_t in = std::stoll(layer.substr(0, x));
      const int64_t out = std::stoll(layer.substr(x + 1));
      at::manual_seed(0);
      const at::Tensor w = at::randn({out, in});
      const at::Tensor b = at::randn({out});
      const at::Tensor wt = w.t().contiguous();
      at::Tensor w_mkldnn;
      if (at::hasMKLDNN()) w_mkldnn = w.to_mkldnn();
      c10::IValue xnn_context;
      if (xnn_prepack && xnn_run) {
        torch::jit::Stack stack{w, b, c10::IValue(), c10::IValue()};
        try {
          xnn_prepack->callBoxed(&stack);
          xnn_context = stack.at(0);
        } catch (const c10::Error&) {
        }
      }
      for (int64_t batch : batch_sizes) {
        const at::Tensor input = at::rand({batch, in});
        const at::Tensor reference = at::linear(input, w, b);
        at::Tensor y = at::empty({batch, out});
        auto check = [&](const at::Tensor& r) {
          if (!at::allclose(r, reference, 1e-4, 1e-4)) std::fprintf(stderr, "mismatch\n");
        };
        const double linear = P50Us([&] { at::linear(input, w, b); }, seconds);
        check(at::addmm(b, input, wt));
        const double addmm = P50Us([&] { at::addmm(b, input, wt); }, seconds);
        // One addmv per row, on `weight` as given.
        auto addmv_rows = [&](const at::Tensor& weight) {
          auto rows = [&] {
            for (int64_t i = 0; i < batch; ++i) {
              at::Tensor row = y[i];
              at::addmv_out(row, b, weight, input[i]);
            }
          };
          rows();
          check(y);
          return P50Us(rows, seconds);
        };
        const double addmv = addmv_rows(w);
        // The same product on a column-major weight (the BLAS's other gemv kernel).
        const double addmv_cols = addmv_rows(wt.t());
        check(LinearWithGemv(input, w, b, batch));
        const double ours = P50Us([&] { LinearWithGemv(input, w, b, batch); }, seconds);
        std::string onednn = "unavailable";
        if (w_mkldnn.defined()) {
          auto run = [&] { return at::mkldnn_linear(input.to_mkldnn(), w_mkldnn, b).to_dense(); };
          check(run());
          onednn = std::to_string(P50Us([&] { run(); }, seconds));
        }
        std::string xnnpack = "unavailable";
        if (!xnn_context.isNone()) {
          auto run = [&] {
            torch::jit::Stack stack{input, xnn_context};
            xnn_run->callBoxed(&stack);
            return stack.at(0).toTensor();
          };
          check(run());
          xnnpack = std::to_string(P50Us([&] { run(); }, seconds));
        }
        std::printf("%-9s %5ld %7d %10.1f %10.1f %10.1f %10.1f %10.1f %10.10s %10.10s\n",
                    layer.c_str(), static_cast<long>(batch), t, linear, addmm, addmv, addmv_cols,
                    ours, onednn.substr(0, onednn.find('.') + 2).c_str(),
                    xnnpack.substr(0, xnnpack.find('.') + 2).c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace ptserve

int main(int argc, char** argv) { return ptserve::Run(argc, argv); }
