#include "core/openmp_env.h"

#include <unistd.h>

#include <cstdlib>

namespace ptserve {

void EnsurePassiveOpenMpWait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  // execv failed (no /proc?): go on with libgomp's default.
}

}  // namespace ptserve
