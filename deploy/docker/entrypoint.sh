#!/bin/bash
# Container entrypoint: execs ptserve, which stays PID 1 and handles SIGTERM itself (it blocks the
# signal and sigwait()s).
#
# Threads need nothing here any more. ptserve plans instances x intra-op threads from the
# container's CPU quota (--cpus, default: the cgroup quota), and sizes OpenBLAS's process-wide pool
# itself: it starts the pool at 1 thread (OpenBLAS would otherwise start one per CPU of the node
# when it loads, 64 on a 64-core node whatever the CPU limit) and grows it to the largest intra-op
# thread count of its model instances. An OPENBLAS_NUM_THREADS set by the user wins.
set -e
exec /opt/ptserve/bin/ptserve "$@"
