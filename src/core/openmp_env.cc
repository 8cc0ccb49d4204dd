#include "core/openmp_env.h"

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace ptserve {

void ReexecWithThreadPoolDefaults(char** argv) {
  bool changed = false;
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
  if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr) {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv(kOpenBlasManagedEnv, "1", 1);
    changed = true;
  }
  if (!changed) return;
  // The binary's real path, not /proc/self/exe: the kernel names the process (ps, top, pgrep)
  // after the file it executed, and /proc/self/exe would make every ptserve "exe".
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n > 0) {
    path[n] = '\0';
    execv(path, argv);
  }
  execv("/proc/self/exe", argv);
  // execv failed (no /proc?): go on with libgomp's and OpenBLAS's defaults.
}

std::string OpenMpBindingWarning() {
  std::string set;
  for (const char* name : {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    const std::string v = value;
    if (std::string(name) == "OMP_PROC_BIND" && (v == "false" || v == "FALSE")) continue;
    set += (set.empty() ? "" : " ") + std::string(name) + "=" + v;
  }
  if (set.empty()) return "";
  cpu_set_t mask;
  CPU_ZERO(&mask);
  std::string cpus;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &mask)) cpus += (cpus.empty() ? "" : ",") + std::to_string(cpu);
    }
  }
  return "OpenMP thread binding is on (" + set + "): libgomp bound the main thread to CPU(s) " +
         cpus + ", and every thread ptserve starts inherits that. Unset these variables; to " +
         "give ptserve dedicated cores, pin the process (cpuset, taskset, numactl) instead";
}

}  // namespace ptserve
