// The BLAS thread pool. Debian's libtorch runs float matrix products in the
// system BLAS (OpenBLAS), whose pthread build has one process-wide pool, one
// thread per host core by default, whatever thread calls it: an instance
// configured with 1 intra-op thread still split every GEMM over 2 threads
// here, and the pool's idle threads spin in sched_yield after each call
// (perf: 58% of a c=1 server's CPU; 1,330 vs 525 CPU ticks for the same run
// with OPENBLAS_NUM_THREADS=1). In a container limited to 2 CPUs on a
// 64-core node it would be 32x oversubscription.
//
// So the pool follows the models: it starts at 1 thread and grows to the
// largest intra-op thread count of any instance that binds to a thread. It
// never shrinks while the process runs (an unloaded model's size is not
// given back: another instance may be inside a GEMM). OPENBLAS_NUM_THREADS,
// when set, wins. Found at run time (dlsym): no link dependency.
#ifndef PTSERVE_BACKEND_BLAS_THREADS_H_
#define PTSERVE_BACKEND_BLAS_THREADS_H_

#include <string>

namespace ptserve {

// Sets the pool to 1 thread (unless OPENBLAS_NUM_THREADS is set); returns
// what was done, for the startup log. Call once, before any model loads.
std::string ConfigureBlasThreads();

// Grows the pool to at least `threads` (an instance's intra-op threads).
// Thread-safe; cheap when nothing changes.
void EnsureBlasThreads(int threads);

// Sets the pool to exactly `threads` and returns the size ptserve had set
// (0: none yet, or the pool is not ptserve's to size). For self-tuning only:
// it measures each layout under the pool that layout would get, then puts the
// old size back. A smaller pool only affects the BLAS calls that start after
// it (OpenBLAS keeps its threads).
int ExchangeBlasThreads(int threads);

// The pool's size now (0 when the BLAS is not OpenBLAS).
int BlasThreads();

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_BLAS_THREADS_H_
