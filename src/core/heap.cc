#include "core/heap.h"

#include <dlfcn.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstddef>

namespace ptserve {
namespace {

// jemalloc's control interface, found at run time so the same binary works
// linked against jemalloc, with it LD_PRELOADed, or with glibc malloc.
using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);

MallctlFn Mallctl() {
  static const MallctlFn fn = reinterpret_cast<MallctlFn>(dlsym(RTLD_DEFAULT, "mallctl"));
  return fn;
}

}  // namespace

std::string HeapAllocatorName() {
  if (MallctlFn mallctl = Mallctl()) {
    std::string name = "jemalloc";
    const char* version = nullptr;
    size_t size = sizeof(version);
    if (mallctl("version", &version, &size, nullptr, 0) == 0 && version != nullptr) {
      name = name + " " + version;
    }
    size_t oversize = 0;
    size = sizeof(oversize);
    if (mallctl("opt.oversize_threshold", &oversize, &size, nullptr, 0) == 0) {
      name += " (oversize_threshold " + std::to_string(oversize);
      bool background = false;
      size = sizeof(background);
      if (mallctl("opt.background_thread", &background, &size, nullptr, 0) == 0) {
        name += background ? ", background_thread" : "";
      }
      name += ")";
    }
    return name;
  }
#ifdef __GLIBC__
  return "glibc malloc";
#else
  return "unknown allocator";
#endif
}

void ReleaseFreedHeapMemory() {
  if (MallctlFn mallctl = Mallctl()) {
    // Flush this thread's cache, then purge the dirty and muzzy pages of all
    // arenas ("arena.<MALLCTL_ARENAS_ALL>.purge"; 4096 in jemalloc 5).
    mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    return;
  }
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace ptserve
