// Drives load against one endpoint and measures it, one step at a time.
//
//   Runner::Options o;  o.endpoint = ep;  o.request = bytes;  o.threads = 1;
//   ASSIGN_OR_RETURN(auto runner, Runner::Create(o));
//   ASSIGN_OR_RETURN(StepResult r, runner->RunStep(StepConfig::Closed(16)));
//   r.stats.latency.ValueAtPercentile(99);
//
// Closed loop: `concurrency` connections, each sends its next request as soon as the previous
// answer arrives. Open loop: requests are due at times drawn from an ArrivalSchedule (constant or
// Poisson); a due request goes out on an idle connection, or on a new one (up to
// max_connections), or waits in a queue. Latency is measured from the intended send time, so
// waiting in the client counts (no coordinated omission).
//
// A step runs `warmup_ms` unmeasured, then measures windows of `measurement_interval_ms` until the
// last three agree within `stability_percentage` (throughput and latency) or `max_trials` windows
// have run, like perf_analyzer; the result merges the last (up to) three windows. With
// `requests > 0` it instead measures exactly that many requests (sent after the warm-up).
//
// Each worker thread owns an epoll set and its connections; nothing is shared on the request
// path. RunStep() blocks; a Runner runs one step at a time.
#ifndef PTSERVE_BENCH_RUNNER_H_
#define PTSERVE_BENCH_RUNNER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "arrival.h"
#include "histogram.h"
#include "http_client.h"

namespace ptserve::bench {

struct StepConfig {
  enum class Mode { kClosed, kOpen };
  Mode mode = Mode::kClosed;
  int concurrency = 1;      // closed loop: connections
  double rate = 0;          // open loop: requests per second (all threads together)

  static StepConfig Closed(int c) { return {Mode::kClosed, c, 0}; }
  static StepConfig Open(double r) { return {Mode::kOpen, 0, r}; }
};

struct ErrorCounts {
  uint64_t connect = 0;       // connect() failed
  uint64_t timeout = 0;       // no complete answer within timeout_ms
  uint64_t closed = 0;        // connection closed or reset before a complete answer
  uint64_t bad_response = 0;  // unparseable answer
  std::map<int, uint64_t> http_status;  // non-2xx answers by status code

  uint64_t Total() const;
  void Merge(const ErrorCounts& o);
};

// Everything measured in a span of time; mergeable across threads and windows.
struct StepStats {
  Histogram latency;     // successful (2xx) requests, ns from intended send to answer
  uint64_t ok = 0;       // 2xx answers
  ErrorCounts errors;
  int64_t duration_ns = 0;       // measured wall time (not summed across threads)
  double send_delay_sum_ns = 0;  // intended send → request fully written ("Client Send")
  uint64_t send_delay_count = 0;
  Histogram send_delay;          // the same, as a distribution (the generator's own lateness)
  double queue_us_sum = 0, compute_us_sum = 0, batch_size_sum = 0;
  uint64_t queue_count = 0, compute_count = 0, batch_count = 0;

  uint64_t Completed() const { return ok + errors.Total(); }
  double Throughput() const;  // 2xx answers per second
  void Merge(const StepStats& o);  // adds counts; durations of parallel parts must be equal
};

struct StepResult {
  StepConfig config;
  StepStats stats;       // the reported windows merged
  TimeSeries series;     // latency over the whole measurement, by completion time
  int windows = 0;       // measurement windows run
  bool stable = true;
  double client_cpu = 0;  // worker threads' CPU seconds per wall second
  int connections = 0;    // connections opened (open loop grows its pool)
};

class Runner {
 public:
  struct Options {
    Endpoint endpoint;
    std::string request;          // serialized request, sent as-is each time
    int threads = 1;
    int64_t warmup_ms = 1000;
    int64_t measurement_interval_ms = 5000;
    int64_t requests = 0;         // > 0: measure exactly this many requests instead
    double stability_percentage = 10;
    int max_trials = 10;
    double percentile = -1;       // stability uses this latency percentile; < 0: the mean
    int64_t timeout_ms = 30000;
    ArrivalSchedule::Distribution distribution = ArrivalSchedule::Distribution::kPoisson;
    uint64_t seed = 1;
    int max_connections = 1024;   // open loop, all threads together
    bool scan_body_for_timing = true;  // read queue/compute times from JSON bodies too
    // Called about once a second from RunStep's thread with a one-line status (for a tty).
    std::function<void(const std::string&)> progress;
  };

  static absl::StatusOr<std::unique_ptr<Runner>> Create(Options options);
  absl::StatusOr<StepResult> RunStep(const StepConfig& config);

 private:
  explicit Runner(Options options) : options_(std::move(options)) {}
  Options options_;
  uint64_t step_index_ = 0;
};

}  // namespace ptserve::bench

#endif  // PTSERVE_BENCH_RUNNER_H_
