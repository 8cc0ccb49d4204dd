#!/bin/bash
# Container entrypoint: sizes OpenBLAS's thread pool from the container's CPU limit, then execs
# ptserve (which stays PID 1 and handles SIGTERM itself: it blocks the signal and sigwait()s).
#
# Why: Debian's libtorch does its float GEMMs in OpenBLAS (pthreads build), whose pool defaults to
# every CPU in the affinity mask. A Kubernetes/Docker CPU limit is a CFS quota, not a cpuset, so on
# a 64-core node a pod limited to 4 CPUs would start 64 BLAS threads and be throttled. ptserve
# already plans its own threads (instances x intra-op) from the quota (--cpus, default: quota).
# Any value set by the user (OPENBLAS_NUM_THREADS, or PTSERVE_CPUS) wins.
set -e
if [ -z "${OPENBLAS_NUM_THREADS:-}" ]; then
  cpus=${PTSERVE_CPUS:-0}
  if [ "$cpus" -le 0 ] 2>/dev/null; then
    cpus=$(nproc)
    quota="" period=""
    if [ -r /sys/fs/cgroup/cpu.max ]; then                       # cgroup v2
      read -r quota period < /sys/fs/cgroup/cpu.max
    elif [ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then        # cgroup v1
      quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)
      period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)
    fi
    if [[ "$quota" =~ ^[0-9]+$ && "$period" =~ ^[0-9]+$ && $period -gt 0 ]]; then
      q=$(( (quota + period - 1) / period ))
      [ "$q" -lt "$cpus" ] && cpus=$q
    fi
  fi
  [ "$cpus" -ge 1 ] 2>/dev/null || cpus=1
  export OPENBLAS_NUM_THREADS=$cpus
fi
exec /opt/ptserve/bin/ptserve "$@"
