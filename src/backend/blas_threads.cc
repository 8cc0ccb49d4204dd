#include "backend/blas_threads.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "core/openmp_env.h"

namespace ptserve {
namespace {

using SetFn = void (*)(int);
using GetFn = int (*)();

struct OpenBlas {
  SetFn set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  GetFn get = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  // The user's OPENBLAS_NUM_THREADS wins: ptserve then never resizes the pool. (The one that
  // ReexecWithThreadPoolDefaults sets, so that OpenBLAS does not start a thread per host core when
  // it loads, is ptserve's.)
  bool user_set = [] {
    const char* env = std::getenv("OPENBLAS_NUM_THREADS");
    const char* managed = std::getenv(kOpenBlasManagedEnv);
    return env != nullptr && *env != '\0' && (managed == nullptr || std::string(managed) != "1");
  }();
  std::mutex mu;
  int threads = 0;  // what ptserve set; 0 = nothing yet
};

OpenBlas& Blas() {
  static OpenBlas blas;
  return blas;
}

}  // namespace

std::string ConfigureBlasThreads() {
  OpenBlas& blas = Blas();
  if (blas.set == nullptr) return "BLAS: not OpenBLAS, threads left as they are";
  if (blas.user_set) {
    return "OpenBLAS threads: " + std::to_string(BlasThreads()) + " (from OPENBLAS_NUM_THREADS)";
  }
  EnsureBlasThreads(1);
  return "OpenBLAS threads: " + std::to_string(BlasThreads()) +
         " (grows to the models' intra-op threads)";
}

void EnsureBlasThreads(int threads) {
  OpenBlas& blas = Blas();
  if (blas.set == nullptr || blas.user_set) return;
  if (threads < 1) threads = 1;
  std::lock_guard<std::mutex> lock(blas.mu);
  if (blas.threads != 0 && threads <= blas.threads) return;
  // The first call may shrink the default (one per host core) pool, before any model runs.
  blas.set(threads);
  blas.threads = threads;
}

int ExchangeBlasThreads(int threads) {
  OpenBlas& blas = Blas();
  if (blas.set == nullptr || blas.user_set) return 0;
  if (threads < 1) threads = 1;
  std::lock_guard<std::mutex> lock(blas.mu);
  const int before = blas.threads;
  if (threads != blas.threads) blas.set(threads);
  blas.threads = threads;
  return before;
}

int BlasThreads() {
  OpenBlas& blas = Blas();
  if (blas.set == nullptr) return 0;
  return blas.get != nullptr ? blas.get() : blas.threads;
}

}  // namespace ptserve
