// The standard Prometheus process metrics, read from /proc at scrape time
// (the names every Prometheus client library uses, so stock dashboards work):
//
//   process_cpu_seconds_total        user + system CPU time
//   process_resident_memory_bytes    RSS
//   process_virtual_memory_bytes     virtual size
//   process_open_fds / process_max_fds
//   process_threads                  OS threads
//   process_start_time_seconds       since the Unix epoch
//
//   metrics::Registry registry;
//   auto process = metrics::ProcessMetrics::Register(registry);  // keep it alive
//
// Linux only. When /proc cannot be read (never expected) the values are NaN
// for that scrape.
#ifndef PTSERVE_METRICS_PROCESS_METRICS_H_
#define PTSERVE_METRICS_PROCESS_METRICS_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/registry.h"

namespace ptserve::metrics {

struct ProcessStats {
  double cpu_seconds = 0;
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double threads = 0;
  double start_time_seconds = 0;
  double open_fds = 0;
  double max_fds = 0;  // 0 when unlimited or unknown
};

// Where to read; tests point these at fake files.
struct ProcPaths {
  std::string self = "/proc/self";  // stat, fd/, limits
  std::string stat = "/proc/stat";  // btime
};

// Reads every field; an error names the file that could not be read or
// parsed.
absl::StatusOr<ProcessStats> ReadProcessStats(const ProcPaths& paths = {});

// Owns the process_* series on a registry; they disappear when it is
// destroyed. One /proc read serves a whole scrape (results are reused for
// 100 ms).
class ProcessMetrics {
 public:
  // `registry` must outlive the returned object. Registers the process_*
  // families; call at most once per registry.
  static std::unique_ptr<ProcessMetrics> Register(Registry& registry, ProcPaths paths = {});

 private:
  explicit ProcessMetrics(ProcPaths paths) : paths_(std::move(paths)) {}
  std::optional<ProcessStats> Read();

  const ProcPaths paths_;
  Mutex mu_;
  std::chrono::steady_clock::time_point read_at_ ABSL_GUARDED_BY(mu_);
  std::optional<ProcessStats> cached_ ABSL_GUARDED_BY(mu_);
  std::vector<Registration> registrations_;
};

}  // namespace ptserve::metrics

#endif  // PTSERVE_METRICS_PROCESS_METRICS_H_
