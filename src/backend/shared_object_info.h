// SharedObjectInfo: what an ELF shared object (e.g. the model library inside
// an AOTInductor package) needs from the process that loads it: the
// libraries it links (DT_NEEDED) and the symbol versions it requires from
// them (GLIBC_2.38, GLIBCXX_3.4.32, ...). Read from the file, without
// loading it, so that a package built elsewhere fails with an explanation
// instead of a bare dlopen() error.
//
//   ASSIGN_OR_RETURN(SharedObjectInfo so, ReadSharedObjectInfo(path));
//   if (auto why = so.Incompatibility(HostLibraries())) ...
//
// Library-free; no libtorch.
#ifndef PTSERVE_BACKEND_SHARED_OBJECT_INFO_H_
#define PTSERVE_BACKEND_SHARED_OBJECT_INFO_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ptserve {

struct SharedObjectInfo {
  std::string machine;                        // "x86-64", "aarch64", ...
  std::vector<std::string> needed;            // DT_NEEDED, in file order
  std::vector<std::string> version_needs;     // "GLIBC_2.38", "GLIBCXX_3.4.32", ... (sorted, unique)

  // The newest version of `prefix` ("GLIBC_") the object requires, as
  // {major, minor, patch}; nullopt when it requires none.
  std::optional<std::vector<int>> NewestVersion(const std::string& prefix) const;
  // Whether a DT_NEEDED entry starts with `prefix` ("libtorch_cuda").
  bool Needs(const std::string& prefix) const;
  // One line for error messages: "needs libtorch.so, libc.so.6; GLIBC_2.38, GLIBCXX_3.4.32".
  std::string Describe() const;
};

// Reads an ELF64 little-endian shared object. InvalidArgument when `path` is
// not one (too short, bad magic, 32-bit, truncated tables); NotFound when it
// cannot be opened. Reads at most the headers and the dynamic tables.
absl::StatusOr<SharedObjectInfo> ReadSharedObjectInfo(const std::string& path);

// What the running process offers, for comparison.
struct HostLibraries {
  std::string machine;              // of this build
  std::vector<int> glibc;           // gnu_get_libc_version()
};
HostLibraries CurrentHostLibraries();

// Why `so` cannot load into `host` (another architecture, a newer glibc than
// the host's); nullopt when nothing is known to be wrong.
std::optional<std::string> Incompatibility(const SharedObjectInfo& so, const HostLibraries& host);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_SHARED_OBJECT_INFO_H_
