// OpenMP's wait policy, which libgomp reads once, when it loads (before
// main), so it can only be changed by re-executing the process.
//
// Why: with the default (ACTIVE: idle OpenMP threads spin), a model run with
// 2 intra-op threads on 2 CPUs that something else also uses slows down
// ~15x (ResNet-18 batch 1: 696 ms vs 47 ms PASSIVE, measured here with one
// other busy process). Containers under a CPU quota are exactly that case.
#ifndef PTSERVE_CORE_OPENMP_ENV_H_
#define PTSERVE_CORE_OPENMP_ENV_H_

#include <string>

namespace ptserve {

// If OMP_WAIT_POLICY is unset, sets it to PASSIVE; if OPENBLAS_NUM_THREADS is
// unset, sets it to 1 and kOpenBlasManagedEnv to 1 (OpenBLAS starts its whole
// pool when it loads, one thread per host core, before main; ptserve grows it
// to what the models need, see backend/blas_threads.h). Re-executes this
// program with the same arguments when it set anything (returns only if that
// fails, or when both were already set: the user's choice wins). Call first
// in main().
void ReexecWithThreadPoolDefaults(char** argv);

// Set (to "1") by ReexecWithThreadPoolDefaults when OPENBLAS_NUM_THREADS is its
// doing, not the user's.
inline constexpr char kOpenBlasManagedEnv[] = "PTSERVE_OPENBLAS_MANAGED";

// Non-empty when OpenMP thread binding is on (OMP_PROC_BIND other than
// false, OMP_PLACES or GOMP_CPU_AFFINITY set): libgomp then binds the
// initial thread to the first place before main(), and every thread ptserve
// starts (network, model instances and their OpenMP teams' masters)
// inherits that mask. Measured here, OMP_PROC_BIND=close OMP_PLACES=cores
// put every thread on CPU 0: ResNet-18 30.7 vs 60.0 img/s unbound. Says
// what happened and what to do instead; call before starting threads.
std::string OpenMpBindingWarning();

}  // namespace ptserve

#endif  // PTSERVE_CORE_OPENMP_ENV_H_
