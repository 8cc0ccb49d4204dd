// AotiPackage: an AOTInductor package (`.pt2`, made by
// torch._inductor.aoti_compile_and_package) unpacked for loading: the
// model's shared object, its generated C++ (kept for diagnostics) and the
// package metadata (device, user metadata such as ptserve's I/O specs).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<AotiPackage> pkg,
//                    AotiPackage::Extract("m/1/model.pt2", {.directory = "/var/tmp"}));
//   pkg->so_path();                  // .../model/<hash>.so, ready for dlopen
//   pkg->metadata().at("AOTI_DEVICE_KEY");   // "cpu"
//
// A package is a zip archive: `version`, `archive_format` ("pt2") and
// `data/aotinductor/<model name>/{<hash>.so, <hash>.cpp, <hash>_metadata.json}`
// (optionally all under one top-level folder). Only those entries are
// extracted, under names ptserve chooses, so entry names cannot write
// outside the extraction directory; sizes are checked against a limit before
// and while extracting. The extraction directory is removed when the
// AotiPackage is destroyed (a loaded .so stays mapped after its file goes).
//
// Library-free (libzip, simdjson); no libtorch. Thread-compatible.
#ifndef PTSERVE_BACKEND_AOTI_PACKAGE_H_
#define PTSERVE_BACKEND_AOTI_PACKAGE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace ptserve {

class AotiPackage {
 public:
  struct Options {
    // Where to unpack (a new private folder is made inside). Empty: $TMPDIR,
    // else /tmp. Kubernetes pods often mount /tmp read-only: point it at a
    // writable emptyDir.
    std::string directory;
    // Which model of the package; empty = the only one (error when several).
    std::string model_name;
    // Most bytes to unpack (the .so embeds the weights).
    uint64_t max_bytes = uint64_t{16} << 30;
  };

  // InvalidArgument for anything that is not a readable package (not a zip,
  // truncated, no model library, several models and none chosen, too big),
  // FailedPrecondition when the extraction directory is not writable.
  static absl::StatusOr<std::unique_ptr<AotiPackage>> Extract(const std::string& package_path,
                                                              const Options& options);
  ~AotiPackage();
  AotiPackage(const AotiPackage&) = delete;
  AotiPackage& operator=(const AotiPackage&) = delete;

  const std::string& model_name() const { return model_name_; }
  const std::string& so_path() const { return so_path_; }
  const std::string& cpp_path() const { return cpp_path_; }  // empty when not packaged
  // <hash>_metadata.json as key -> value (values that are not strings are
  // kept as their JSON text). Empty when the package has none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // "cpu", "cuda", ... (AOTI_DEVICE_KEY); "cpu" when the metadata is silent.
  std::string device() const;
  // From the generated C++'s compile command, when packaged: the libstdc++
  // ABI it was compiled for (0 or 1) and the torch include folder.
  std::optional<int> cxx11_abi() const { return cxx11_abi_; }
  const std::string& torch_include_dir() const { return torch_include_dir_; }
  // The largest fixed OpenMP team size in the generated C++ (`#pragma omp
  // parallel num_threads(N)`): Inductor writes the compiling machine's thread
  // count into every parallel kernel unless cpp.dynamic_threads is on, and
  // such kernels ignore the serving thread's intra-op setting. nullopt when
  // the kernels follow omp_get_max_threads() or the C++ is not packaged.
  std::optional<int> fixed_parallel_threads() const { return fixed_parallel_threads_; }

 private:
  AotiPackage() = default;
  std::string directory_;
  std::string model_name_;
  std::string so_path_;
  std::string cpp_path_;
  std::map<std::string, std::string> metadata_;
  std::optional<int> cxx11_abi_;
  std::string torch_include_dir_;
  std::optional<int> fixed_parallel_threads_;
};

// The largest N of `num_threads(N)` with a literal N in C++ source text.
std::optional<int> FixedOpenMpThreads(const std::string& cpp_source);

// Parses a flat JSON object into key -> value (strings unquoted, other
// values as their JSON text). InvalidArgument when `json` is not an object.
absl::StatusOr<std::map<std::string, std::string>> ParseFlatJsonObject(const std::string& json);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_AOTI_PACKAGE_H_
