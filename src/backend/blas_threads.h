// The BLAS thread pool. Debian's libtorch runs matrix products in the system
// BLAS (OpenBLAS), whose pthread build starts one thread per host core by
// default: in a container limited to 2 CPUs on a 64-core node that is 32x
// oversubscription. ptserve sizes it to the CPUs it plans for, unless
// OPENBLAS_NUM_THREADS is set. Found at run time (dlsym): no link dependency.
#ifndef PTSERVE_BACKEND_BLAS_THREADS_H_
#define PTSERVE_BACKEND_BLAS_THREADS_H_

#include <string>

namespace ptserve {

// Returns what was done, for the startup log.
std::string ConfigureBlasThreads(int threads);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_BLAS_THREADS_H_
