#include "metrics/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ptserve::metrics {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::Status ParseError(const std::string& path, const std::string& what) {
  return absl::InternalError(absl::StrCat(path, ": cannot parse ", what));
}

// Entries in a directory, less "." and "..".
absl::StatusOr<int> CountEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return absl::NotFoundError(absl::StrCat("cannot list ", dir));
  int n = 0;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") ++n;
  }
  closedir(d);
  return n;
}

}  // namespace

absl::StatusOr<ProcessStats> ReadProcessStats(const ProcPaths& paths) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats s;

  // /proc/self/stat: "pid (comm) state f4 f5 ...". comm may hold spaces and
  // parentheses, so fields are counted from the last ')'.
  const std::string stat_path = paths.self + "/stat";
  absl::StatusOr<std::string> stat = ReadFile(stat_path);
  if (!stat.ok()) return stat.status();
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) return ParseError(stat_path, "the command name");
  const std::vector<std::string> f =
      absl::StrSplit(stat->substr(close + 1), ' ', absl::SkipWhitespace());
  // f[0] is field 3 (state), so field k is f[k - 3].
  auto field = [&](int k, double* out) {
    return static_cast<size_t>(k - 3) < f.size() && absl::SimpleAtod(f[k - 3], out);
  };
  double utime, stime, threads, start_ticks, vsize, rss_pages;
  if (!field(14, &utime) || !field(15, &stime) || !field(20, &threads) ||
      !field(22, &start_ticks) || !field(23, &vsize) || !field(24, &rss_pages)) {
    return ParseError(stat_path, "fields 14-24");
  }
  s.cpu_seconds = (utime + stime) / ticks;
  s.threads = threads;
  s.virtual_memory_bytes = vsize;
  s.resident_memory_bytes = rss_pages * page;

  // Boot time, to turn the start time (ticks since boot) into epoch seconds.
  absl::StatusOr<std::string> system_stat = ReadFile(paths.stat);
  if (!system_stat.ok()) return system_stat.status();
  bool have_btime = false;
  for (absl::string_view line : absl::StrSplit(*system_stat, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      double btime;
      if (!absl::SimpleAtod(line, &btime)) return ParseError(paths.stat, "btime");
      s.start_time_seconds = btime + start_ticks / ticks;
      have_btime = true;
      break;
    }
  }
  if (!have_btime) return ParseError(paths.stat, "btime");

  absl::StatusOr<int> fds = CountEntries(paths.self + "/fd");
  if (!fds.ok()) return fds.status();
  s.open_fds = *fds;

  // "Max open files            1024                 1048576              files"
  const std::string limits_path = paths.self + "/limits";
  absl::StatusOr<std::string> limits = ReadFile(limits_path);
  if (!limits.ok()) return limits.status();
  for (absl::string_view line : absl::StrSplit(*limits, '\n')) {
    if (absl::ConsumePrefix(&line, "Max open files")) {
      const std::vector<std::string> v = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      double soft;
      if (!v.empty() && absl::SimpleAtod(v[0], &soft)) s.max_fds = soft;  // else "unlimited"
      break;
    }
  }
  return s;
}

std::optional<ProcessStats> ProcessMetrics::Read() {
  MutexLock lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!cached_ || now - read_at_ > std::chrono::milliseconds(100)) {
    absl::StatusOr<ProcessStats> s = ReadProcessStats(paths_);
    cached_ = s.ok() ? std::optional<ProcessStats>(*s) : std::nullopt;
    read_at_ = now;
  }
  return cached_;
}

std::unique_ptr<ProcessMetrics> ProcessMetrics::Register(Registry& registry, ProcPaths paths) {
  std::unique_ptr<ProcessMetrics> m(new ProcessMetrics(std::move(paths)));
  ProcessMetrics* self = m.get();
  auto read = [self](double ProcessStats::*field) {
    return [self, field] {
      std::optional<ProcessStats> s = self->Read();
      return s ? (*s).*field : std::nan("");
    };
  };
  auto& r = m->registrations_;
  r.push_back(registry.AddCounter("process_cpu_seconds_total",
                                  "Total user and system CPU time spent in seconds.")
                  .AddCallback({}, read(&ProcessStats::cpu_seconds)));
  r.push_back(registry.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.")
                  .AddCallback({}, read(&ProcessStats::resident_memory_bytes)));
  r.push_back(registry.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
                  .AddCallback({}, read(&ProcessStats::virtual_memory_bytes)));
  r.push_back(registry.AddGauge("process_open_fds", "Number of open file descriptors.")
                  .AddCallback({}, read(&ProcessStats::open_fds)));
  r.push_back(registry.AddGauge("process_max_fds", "Maximum number of open file descriptors.")
                  .AddCallback({}, read(&ProcessStats::max_fds)));
  r.push_back(registry.AddGauge("process_threads", "Number of OS threads in the process.")
                  .AddCallback({}, read(&ProcessStats::threads)));
  r.push_back(registry.AddGauge("process_start_time_seconds",
                                "Start time of the process since unix epoch in seconds.")
                  .AddCallback({}, read(&ProcessStats::start_time_seconds)));
  return m;
}

}  // namespace ptserve::metrics
