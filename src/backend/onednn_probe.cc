#include "backend/onednn_probe.h"

#include <ATen/ATen.h>
#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

namespace ptserve {
namespace {

std::string Probe() {
#if AT_MKLDNN_ENABLED()
  const pid_t child = fork();
  if (child < 0) return "";  // cannot tell: assume it works, as before this check
  if (child == 0) {
    at::set_num_threads(1);
    at::Tensor a = at::ones({1, 8, 4, 4}).to_mkldnn();
    at::Tensor sum = (a + a).to_dense();
    _exit(sum.sum().item<float>() == 256.0f ? 0 : 3);
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      return "a probe did not finish in 30 s";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFSIGNALED(status)) {
    return "a probe died with signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return "a probe computed a wrong sum (exit " + std::to_string(WEXITSTATUS(status)) + ")";
  }
#endif
  return "";
}

}  // namespace

const std::string& OneDnnFailure() {
  static const std::string failure = [] {
    std::string why = Probe();
    if (!why.empty()) {
      // libtorch 2.x's default quantized engine ("x86") runs some int8 kernels in oneDNN;
      // FBGEMM runs them all itself.
      const auto& engines = at::globalContext().supportedQEngines();
      if (std::find(engines.begin(), engines.end(), at::QEngine::FBGEMM) != engines.end()) {
        at::globalContext().setQEngine(at::QEngine::FBGEMM);
      }
    }
    return why;
  }();
  return failure;
}

}  // namespace ptserve
