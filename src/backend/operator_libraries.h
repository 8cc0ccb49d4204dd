// OperatorLibraries: shared libraries that register PyTorch operators when
// they are loaded (TORCH_LIBRARY in a static constructor): torchvision's
// `_C` library (torchvision::nms, roi_align, deform_conv2d, ...) and users'
// own. A TorchScript model that calls such an operator loads only once the
// library is in the process.
//
//   OperatorLibraries libraries;
//   if (auto tv = FindTorchvisionOperators()) (void)libraries.Load(*tv, "torchvision");
//   RETURN_IF_ERROR(libraries.Load("/opt/ops/libmyops.so", "--operator-library"));
//   for (const auto& l : libraries.Loaded()) LOG(l.path, l.origin);
//
// Loading a library runs its code in the server process. So that a library
// whose constructor crashes (a segfault, an abort, or a C++ exception such as
// "operator already registered", which terminates the process from a static
// constructor) does not take the server down, each library is first loaded
// in a forked child, with the operators already registered in the server;
// only when the child loaded it and exited cleanly is it loaded in the server
// itself. The probe is a good guess, not a proof: a constructor that crashes
// only sometimes, or depends on threads the child does not have, can still
// pass it. A child that has not finished after `probe_timeout` is killed and
// the library refused.
//
// Libraries are never unloaded (their operators stay registered for the life
// of the process); loading the same file again is a no-op.
//
// Library-free (dlopen and fork; no libtorch). Thread-safe: loads are
// serialised, so two libraries are never probed or loaded at once.
#ifndef PTSERVE_BACKEND_OPERATOR_LIBRARIES_H_
#define PTSERVE_BACKEND_OPERATOR_LIBRARIES_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace ptserve {

class OperatorLibraries {
 public:
  struct Options {
    // How long a probe child may take to load a library before it is killed
    // and the library refused.
    std::chrono::milliseconds probe_timeout{60000};
  };
  struct Library {
    std::string path;    // canonical
    std::string origin;  // who asked: "torchvision", "--operator-library", "model 'det'"
  };

  OperatorLibraries();
  explicit OperatorLibraries(Options options);

  // Probes, then loads `path` (dlopen RTLD_NOW). Errors name the path:
  //   NotFound        "operator library /x/libops.so: No such file or directory"
  //   InvalidArgument "operator library /x/ops.txt: not a shared library (dlopen: ...)"
  //   InvalidArgument "operator library /x/libbad.so: loading it in a probe process crashed
  //                    (signal 11, Segmentation fault); it was not loaded into the server: ..."
  // Blocks for the probe (a fork and a dlopen: milliseconds to seconds).
  absl::Status Load(const std::string& path, const std::string& origin) ABSL_LOCKS_EXCLUDED(mu_);

  // Every library loaded, in load order.
  std::vector<Library> Loaded() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Options options_;
  mutable absl::Mutex mu_;
  std::vector<Library> loaded_ ABSL_GUARDED_BY(mu_);
};

// Where torchvision's operator library may be installed: Debian's
// python3-torchvision (/usr/lib/python3/dist-packages/torchvision), then
// <prefix>/lib/ptserve/torchvision of an installed ptserve (<prefix>/bin/ptserve;
// the container image's). Not pip's (it links a libtorch of its own).
std::vector<std::string> TorchvisionDirectories();

// The first torchvision operator library (`_C.so`, or Debian's
// `_C.cpython-311-x86_64-linux-gnu.so`) in `dirs`; nullopt when none holds one.
std::optional<std::string> FindTorchvisionOperators(
    const std::vector<std::string>& dirs = TorchvisionDirectories());

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_OPERATOR_LIBRARIES_H_
