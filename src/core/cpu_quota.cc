#include "core/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <thread>

namespace ptserve {
namespace {

// Returns quota/period in CPUs, or 0 when unlimited or unreadable.
double QuotaCpus(const std::string& root) {
  {
    std::ifstream v2(root + "/cpu.max");
    std::string quota;
    double period = 0;
    if (v2 >> quota >> period) {
      if (quota == "max" || period <= 0) return 0;
      return std::stod(quota) / period;
    }
  }
  std::ifstream q(root + "/cpu/cpu.cfs_quota_us"), p(root + "/cpu/cpu.cfs_period_us");
  double quota = 0, period = 0;
  if (q >> quota && p >> period && quota > 0 && period > 0) return quota / period;
  return 0;
}

}  // namespace

int AvailableCpus(const std::string& cgroup_root) {
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  const double quota = QuotaCpus(cgroup_root);
  if (quota > 0) cpus = std::min(cpus, static_cast<int>(std::ceil(quota)));
  return std::max(cpus, 1);
}

}  // namespace ptserve
