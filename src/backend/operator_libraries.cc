#include "backend/operator_libraries.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ptserve {
namespace fs = std::filesystem;
namespace {

// Exit codes of the probe child. Not 0 or 1, so that a constructor that
// calls exit() itself is not mistaken for a clean load.
constexpr int kProbeLoaded = 90;
constexpr int kProbeDlopenFailed = 91;
constexpr int kProbeThrew = 92;
// What the parent keeps of the child's stderr: its beginning, where a dying
// constructor's message is (libtorch's errors go on with a backtrace).
constexpr size_t kMaxProbeOutput = 1024;

// The first `bytes` of `text`, on one line.
std::string OneLine(const std::string& text, size_t bytes) {
  std::string line(absl::StripAsciiWhitespace(text.substr(0, bytes)));
  for (char& c : line) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return text.size() > bytes ? line + " ..." : line;
}

// The probe child: loads `path` and exits with a kProbe* code, what went
// wrong written to fds[1] (its stderr too). Only dlopen and async-signal-safe
// calls (the parent may have threads), and it never returns: were a C++
// exception from a constructor (libtorch's "Only a single TORCH_LIBRARY ...")
// to propagate out of dlopen uncaught, it would unwind into the server's own
// code, which would then go on running in the child (seen once, before this
// was noexcept). An exception the catch below cannot take ends in
// std::terminate here instead: a crash the parent reports.
[[noreturn]] void ProbeChild(const std::string& path, const int fds[2]) noexcept {
  close(fds[0]);
  dup2(fds[1], STDERR_FILENO);
  auto say = [&](const char* text) {
    if (text != nullptr) (void)!write(fds[1], text, strlen(text));
  };
  int code = kProbeLoaded;
  try {
    if (dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL) == nullptr) {
      say(dlerror());
      code = kProbeDlopenFailed;
    }
  } catch (const std::exception& e) {
    say(e.what());
    code = kProbeThrew;
  } catch (...) {
    say("an exception that is not a std::exception");
    code = kProbeThrew;
  }
  _exit(code);
}

// Loads `path` in a forked child; OK when the child loaded it and exited
// cleanly. The child's stderr (what a dying constructor printed, e.g.
// libtorch's "terminate called after throwing an instance of
// 'c10::Error'") comes back in the error.
absl::Status Probe(const std::string& path, std::chrono::milliseconds timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("operator library ", path,
                                            ": cannot make a pipe for the probe: ",
                                            std::strerror(errno)));
  }
  const pid_t child = fork();
  if (child < 0) {
    const int error = errno;
    close(fds[0]);
    close(fds[1]);
    return absl::ResourceExhaustedError(absl::StrCat(
        "operator library ", path, ": cannot fork a probe process (", std::strerror(error),
        "), so it was not loaded"));
  }
  if (child == 0) ProbeChild(path, fds);
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  std::string output;
  auto drain = [&] {
    char buffer[4096];
    ssize_t n;
    while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) {
      // Read on past the limit (the child must not block on a full pipe).
      if (output.size() <= kMaxProbeOutput) output.append(buffer, static_cast<size_t>(n));
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool timed_out = false;
  while (true) {
    pollfd p{fds[0], POLLIN, 0};
    poll(&p, 1, 10);
    drain();
    const pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (done < 0 && errno != EINTR) {
      status = 0;  // cannot happen (our own child); treated as unknown below
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      timed_out = true;
      break;
    }
  }
  drain();
  close(fds[0]);
  output = OneLine(output, kMaxProbeOutput);
  const std::string said = output.empty() ? "" : absl::StrCat(": ", output);
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(
        "operator library ", path, ": loading it in a probe process did not finish in ",
        timeout.count() / 1000.0, " s, so it was not loaded into the server", said));
  }
  if (WIFSIGNALED(status)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "operator library ", path, ": loading it in a probe process crashed (signal ",
        WTERMSIG(status), ", ", strsignal(WTERMSIG(status)),
        "), so it was not loaded into the server", said));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == kProbeDlopenFailed) {
    const bool not_elf = absl::StrContains(output, "invalid ELF header") ||
                         absl::StrContains(output, "file too short");
    return absl::InvalidArgumentError(absl::StrCat("operator library ", path, ": ",
                                                   not_elf ? "not a shared library" : "cannot load",
                                                   " (dlopen: ", output, ")"));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == kProbeThrew) {
    return absl::InvalidArgumentError(absl::StrCat(
        "operator library ", path, ": loading it in a probe process threw an exception from its "
        "constructor, so it was not loaded into the server (it would have left the dynamic "
        "loader locked)", said));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != kProbeLoaded) {
    return absl::InvalidArgumentError(absl::StrCat(
        "operator library ", path, ": loading it in a probe process ended the process (exit "
        "status ", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
        "), so it was not loaded into the server", said));
  }
  return absl::OkStatus();
}

}  // namespace

OperatorLibraries::OperatorLibraries() : OperatorLibraries(Options()) {}
OperatorLibraries::OperatorLibraries(Options options) : options_(options) {}

absl::Status OperatorLibraries::Load(const std::string& path, const std::string& origin) {
  std::error_code ec;
  const fs::path canonical = fs::canonical(path, ec);
  if (ec) {
    return absl::NotFoundError(absl::StrCat("operator library ", path, ": ", ec.message()));
  }
  if (!fs::is_regular_file(canonical, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("operator library ", path, ": not a regular file"));
  }
  absl::MutexLock lock(&mu_);
  for (const Library& library : loaded_) {
    if (library.path == canonical.string()) return absl::OkStatus();
  }
  if (absl::Status probe = Probe(canonical.string(), options_.probe_timeout); !probe.ok()) {
    return probe;
  }
  void* handle = nullptr;
  try {
    handle = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  } catch (const std::exception& e) {
    // The probe loaded it cleanly, so its constructor throws only sometimes.
    return absl::InternalError(absl::StrCat(
        "operator library ", path, ": its constructor threw (", e.what(),
        ") although it loaded cleanly in a probe process; the server may now be unable to load "
        "other libraries: restart it"));
  }
  if (handle == nullptr) {
    const char* error = dlerror();
    return absl::InvalidArgumentError(absl::StrCat("operator library ", path,
                                                   ": cannot load (dlopen: ",
                                                   error != nullptr ? error : "?", ")"));
  }
  loaded_.push_back({canonical.string(), origin});
  return absl::OkStatus();
}

std::vector<OperatorLibraries::Library> OperatorLibraries::Loaded() const {
  absl::MutexLock lock(&mu_);
  return loaded_;
}

std::vector<std::string> TorchvisionDirectories() {
  // Debian's python3-torchvision, built against the same libtorch as Debian's
  // libtorch-dev; then <prefix>/lib/ptserve/torchvision beside an installed
  // ptserve (the container image puts Debian's _C library there). Not pip's
  // torchvision: it links pip's own libtorch, and two libtorch copies in one
  // process do not work; whoever knows that one matches passes it with
  // --operator-library.
  std::vector<std::string> dirs = {"/usr/lib/python3/dist-packages/torchvision"};
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path().parent_path() / "lib/ptserve/torchvision").string());
  return dirs;
}

std::optional<std::string> FindTorchvisionOperators(const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    std::error_code ec;
    std::vector<std::string> found;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if ((name == "_C.so" || (absl::StartsWith(name, "_C.") && absl::EndsWith(name, ".so"))) &&
          entry.is_regular_file(ec)) {
        found.push_back(entry.path().string());
      }
    }
    if (!found.empty()) {
      std::sort(found.begin(), found.end());
      return found.front();
    }
  }
  return std::nullopt;
}

}  // namespace ptserve
