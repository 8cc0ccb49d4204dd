// Test helper: runs `promtool check metrics` on exposition text, when Debian's
// `prometheus` package (which ships promtool) is installed.
#ifndef PTSERVE_METRICS_PROMTOOL_FOR_TEST_H_
#define PTSERVE_METRICS_PROMTOOL_FOR_TEST_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace ptserve::metrics::testing {

// The promtool on PATH (or $PROMTOOL), or empty.
inline std::optional<std::string> FindPromtool() {
  if (const char* env = std::getenv("PROMTOOL"); env != nullptr && access(env, X_OK) == 0) {
    return std::string(env);
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/promtool";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

struct PromtoolResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// `promtool check metrics < text`: exit 0 and no output means the text
// parses and passes promtool's lint (naming conventions, HELP present).
inline PromtoolResult CheckMetrics(const std::string& promtool, const std::string& text) {
  char path[] = "/tmp/ptserve-metrics-XXXXXX";
  const int fd = mkstemp(path);
  PromtoolResult result;
  if (fd < 0) return result;
  close(fd);
  std::ofstream(path) << text;
  const std::string command = promtool + " check metrics < " + path + " 2>&1";
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  unlink(path);
  return result;
}

}  // namespace ptserve::metrics::testing

#endif  // PTSERVE_METRICS_PROMTOOL_FOR_TEST_H_
