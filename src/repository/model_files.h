// Model files named by a config (default_model_filename, warm-up
// input_data_file) are confined to the model's own directory: a config,
// which may come from the management API, must never make ptserve load or
// read another file on the host (TorchScript is code), nor reveal whether
// one exists, nor read a device or pipe that never ends.
//
//   ASSIGN_OR_RETURN(std::string path,
//                    ResolveFileInside(version_dir, "model.pt", "default_model_filename"));
//   ASSIGN_OR_RETURN(std::string bytes, ReadFileExactly(path, 3136, "warm-up 'w' input 'x'"));
//
// Thread-safe (filesystem calls only).
#ifndef PTSERVE_REPOSITORY_MODEL_FILES_H_
#define PTSERVE_REPOSITORY_MODEL_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ptserve {

// The canonical path of `name` inside `dir`, when it is a regular file
// there. `name` must be relative, without "." or ".." components
// (CheckRelativeFileName); `dir` is resolved first (it may itself be a
// symlink, e.g. a version directory linked in by the operator), then the
// file, symlinks included (std::filesystem::canonical), and the result must
// still lie below the resolved `dir`. Errors name `field` and the file:
//   InvalidArgument "<field>: '/etc/passwd' is an absolute path; ..."
//   InvalidArgument "<field>: 'm.pt' resolves outside <dir>"
//   InvalidArgument "<field>: 'm.pt' is not a regular file"
//   NotFound        "<field>: 'm.pt' does not exist in <dir>"
// Call it on whatever file name a backend will open (the lead's .pt2
// packages too), just before loading.
absl::StatusOr<std::string> ResolveFileInside(const std::string& dir, const std::string& name,
                                              std::string_view field);

// Reads `path` (from ResolveFileInside), which must be a regular file of
// exactly `expected_bytes` bytes; the size is checked (fstat on the opened
// file, not following symlinks, never blocking on a FIFO) before anything is
// read. InvalidArgument naming `field` and the sizes otherwise.
absl::StatusOr<std::string> ReadFileExactly(const std::string& path, uint64_t expected_bytes,
                                            std::string_view field);

// Reads a regular file of at most `max_bytes` bytes (e.g. a config.pbtxt),
// checking the size before reading. NotFound when it cannot be opened.
absl::StatusOr<std::string> ReadFileAtMost(const std::string& path, uint64_t max_bytes);

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_MODEL_FILES_H_
