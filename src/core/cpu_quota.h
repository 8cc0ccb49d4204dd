// The number of CPUs this process may use: the container's cgroup CPU quota
// (v2 cpu.max or v1 cfs_quota_us / cfs_period_us), rounded up, capped by the
// affinity mask; never the host's core count when a quota is set.
#ifndef PTSERVE_CORE_CPU_QUOTA_H_
#define PTSERVE_CORE_CPU_QUOTA_H_

#include <string>

namespace ptserve {

// `cgroup_root` is for tests; production reads /sys/fs/cgroup.
int AvailableCpus(const std::string& cgroup_root = "/sys/fs/cgroup");

}  // namespace ptserve

#endif  // PTSERVE_CORE_CPU_QUOTA_H_
