// AOTInductor backend: serves torch.export + AOTInductor packages
// (`platform: "torch_aoti"`, `<version>/model.pt2` made by
// torch._inductor.aoti_compile_and_package) with libtorch's AOTInductor
// runtime, on the CPU.
//
// Inputs and outputs come from the package's call spec (how many tensors,
// keyword and dict-output names) and ptserve's I/O metadata in the package
// (names, datatypes, shapes with -1 for dynamic dimensions; see
// aoti_signature.h), checked against config.pbtxt when it declares them.
// Generated AOTInductor code checks no input shapes, so every input is
// checked here before it runs. A package exported with a dynamic batch
// dimension (torch.export.Dim) batches like TorchScript; one with a static
// batch of 1 runs one request at a time (batch_limit() == 1).
//
// Builds whose libtorch has no AOTInductor runtime (< 2.6) link
// aoti_unavailable.cc instead: Load() then fails with a message saying so.
#ifndef PTSERVE_BACKEND_AOTI_BACKEND_H_
#define PTSERVE_BACKEND_AOTI_BACKEND_H_

#include <memory>
#include <string>

#include "backend/backend.h"

namespace ptserve {

struct AotiBackendOptions {
  // Where packages are unpacked (their .so must be a file to dlopen);
  // empty = $TMPDIR or /tmp. See AotiPackage::Options::directory.
  std::string extract_dir;
};

std::unique_ptr<Backend> MakeAotiBackend(const AotiBackendOptions& options);

// Whether this build can serve AOTInductor packages.
bool AotiAvailable();

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_AOTI_BACKEND_H_
