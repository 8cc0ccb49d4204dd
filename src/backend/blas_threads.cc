#include "backend/blas_threads.h"

#include <dlfcn.h>

#include <cstdlib>

namespace ptserve {

std::string ConfigureBlasThreads(int threads) {
  using SetFn = void (*)(int);
  using GetFn = int (*)();
  auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (set == nullptr) return "BLAS: not OpenBLAS, threads left as they are";
  if (const char* env = std::getenv("OPENBLAS_NUM_THREADS"); env && *env) {
    return "OpenBLAS threads: " + std::to_string(get ? get() : -1) +
           " (from OPENBLAS_NUM_THREADS)";
  }
  set(threads < 1 ? 1 : threads);
  return "OpenBLAS threads: " + std::to_string(get ? get() : threads);
}

}  // namespace ptserve
