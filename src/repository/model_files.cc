#include "repository/model_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "config/model_config_validation.h"
#include "core/status_macros.h"

namespace ptserve {
namespace fs = std::filesystem;
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// True when `path` is `dir` or lies below it (both canonical).
bool IsInside(const fs::path& path, const fs::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *d) return false;
  }
  return true;
}

// An open file descriptor, closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens `path` for reading without following a final symlink or blocking on
// a FIFO, and checks that it is a regular file. Its size goes to *size.
absl::StatusOr<int> OpenRegular(const std::string& path, std::string_view field, uint64_t* size) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat(Sv(field), field.empty() ? "" : ": ", "cannot open ", path, ": ",
                     std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(Sv(field), field.empty() ? "" : ": ", path,
                                                   " is not a regular file"));
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

absl::StatusOr<std::string> ReadAll(int fd, uint64_t size, const std::string& path,
                                    std::string_view field) {
  std::string bytes(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n = read(fd, bytes.data() + done, size - done);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(Sv(field), field.empty() ? "" : ": ",
                                                     "cannot read ", path, " (",
                                                     n < 0 ? std::strerror(errno) : "it shrank",
                                                     ")"));
    }
    done += static_cast<uint64_t>(n);
  }
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> ResolveFileInside(const std::string& dir, const std::string& name,
                                              std::string_view field) {
  RETURN_IF_ERROR(CheckRelativeFileName(name, field));
  std::error_code ec;
  const fs::path base = fs::canonical(dir, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat(Sv(field), ": directory ", dir, " does not exist (", ec.message(), ")"));
  }
  // weakly_canonical leaves a dangling symlink unresolved; follow such links
  // by hand, so that where a link points is judged whether or not its target
  // exists (no oracle for files outside).
  fs::path resolved = base / name;
  for (int hops = 0;; ++hops) {
    resolved = fs::weakly_canonical(resolved, ec);
    if (ec) {
      return absl::NotFoundError(absl::StrCat(Sv(field), ": '", name, "' cannot be resolved in ",
                                              dir, ": ", ec.message()));
    }
    std::error_code link_ec;
    if (!fs::is_symlink(fs::symlink_status(resolved, link_ec))) break;
    if (hops >= 40) {
      return absl::InvalidArgumentError(
          absl::StrCat(Sv(field), ": '", name, "' has too many levels of symlinks"));
    }
    const fs::path target = fs::read_symlink(resolved, link_ec);
    if (link_ec) break;
    resolved = target.is_absolute() ? target : resolved.parent_path() / target;
  }
  // Checked before existence, so that nothing is revealed about files
  // outside the directory.
  if (!IsInside(resolved, base) || resolved == base) {
    return absl::InvalidArgumentError(absl::StrCat(
        Sv(field), ": '", name, "' resolves outside ", dir,
        " (through a symlink); model files must stay inside the model's directory"));
  }
  const fs::file_status status = fs::status(resolved, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(absl::StrCat(Sv(field), ": '", name, "' does not exist in ", dir));
  }
  if (!fs::is_regular_file(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(field), ": '", name, "' in ", dir, " is not a regular file"));
  }
  return resolved.string();
}

absl::StatusOr<std::string> ReadFileExactly(const std::string& path, uint64_t expected_bytes,
                                            std::string_view field) {
  uint64_t size = 0;
  ASSIGN_OR_RETURN(const int raw_fd, OpenRegular(path, field, &size));
  Fd fd(raw_fd);
  if (size != expected_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(field), ": ", path, " has ", size,
                                                   " bytes, expected ", expected_bytes));
  }
  return ReadAll(fd.get(), size, path, field);
}

absl::StatusOr<std::string> ReadFileAtMost(const std::string& path, uint64_t max_bytes) {
  uint64_t size = 0;
  ASSIGN_OR_RETURN(const int raw_fd, OpenRegular(path, "", &size));
  Fd fd(raw_fd);
  if (size > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " has ", size, " bytes; at most ", max_bytes, " are read"));
  }
  return ReadAll(fd.get(), size, path, "");
}

}  // namespace ptserve
