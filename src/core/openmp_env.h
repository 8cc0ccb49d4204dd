// OpenMP's wait policy, which libgomp reads once, when it loads (before
// main), so it can only be changed by re-executing the process.
//
// Why: with the default (ACTIVE: idle OpenMP threads spin), a model run with
// 2 intra-op threads on 2 CPUs that something else also uses slows down
// ~15x (ResNet-18 batch 1: 696 ms vs 47 ms PASSIVE, measured here with one
// other busy process). Containers under a CPU quota are exactly that case.
#ifndef PTSERVE_CORE_OPENMP_ENV_H_
#define PTSERVE_CORE_OPENMP_ENV_H_

namespace ptserve {

// If OMP_WAIT_POLICY is unset, sets it to PASSIVE and re-executes this
// program with the same arguments (returns only if that fails, or when the
// variable was already set: the user's choice wins). Call first in main().
void EnsurePassiveOpenMpWait(char** argv);

}  // namespace ptserve

#endif  // PTSERVE_CORE_OPENMP_ENV_H_
