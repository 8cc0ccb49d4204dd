// The process heap: which allocator serves malloc, and handing freed memory
// back to the system after a model unload.
//
// Why this exists: a model's weights and activations are freed by the
// threads that ran it, into that thread's allocator arena. glibc keeps what
// is freed at the top of a non-main arena (up to its dynamic trim threshold,
// which grows to 64 MB) and malloc_trim() does not release it, so resident
// memory after an unload varied by up to ~130 MB from one ResNet-18
// load/unload cycle to the next (190-320 MB). ptserve therefore links
// jemalloc where it is available (CMake option PTSERVE_JEMALLOC) and, after
// an unload, asks it to purge every arena; with glibc it falls back to
// malloc_trim().
#ifndef PTSERVE_CORE_HEAP_H_
#define PTSERVE_CORE_HEAP_H_

#include <string>

namespace ptserve {

// "jemalloc <version>" or "glibc malloc" (or "unknown allocator").
std::string HeapAllocatorName();

// Returns memory freed so far to the operating system. Takes milliseconds
// to tens of milliseconds: call it after unloading, not per request.
void ReleaseFreedHeapMemory();

}  // namespace ptserve

#endif  // PTSERVE_CORE_HEAP_H_
