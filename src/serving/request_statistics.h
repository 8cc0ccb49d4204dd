// RequestStatistics: cumulative per-(model, version) request counts and
// durations since the server started, for statistics APIs (Triton's
// ModelStatistics). The Prometheus series in metrics/ carry the same
// facts as histograms; this keeps exact sums and the time of the last request.
//
//   stats.Record("mlp", "1", ok, total_us, queue_us, compute_us, rows);
//   RequestStatistics::Totals t = stats.Read("mlp", "1");
//
// Thread-safe. Record() takes a shared lock (an exclusive one the first time
// a model version is seen) and does a few relaxed atomic adds.
#ifndef PTSERVE_SERVING_REQUEST_STATISTICS_H_
#define PTSERVE_SERVING_REQUEST_STATISTICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <utility>

namespace ptserve {

class RequestStatistics {
 public:
  struct Totals {
    uint64_t success = 0, failure = 0;
    uint64_t rows = 0;  // batch rows of successful requests (Triton's inference_count)
    uint64_t total_ns = 0, queue_ns = 0, compute_ns = 0;  // of successful requests
    uint64_t failure_ns = 0;
    uint64_t last_ms = 0;  // wall-clock ms since the epoch of the last request; 0 = none
  };

  void Record(const std::string& model, const std::string& version, bool ok, int64_t total_us,
              int64_t queue_us, int64_t compute_us, int64_t rows);
  Totals Read(const std::string& model, const std::string& version) const;

 private:
  struct Counters {
    std::atomic<uint64_t> success{0}, failure{0}, rows{0}, total_ns{0}, queue_ns{0}, compute_ns{0},
        failure_ns{0}, last_ms{0};
  };
  mutable std::shared_mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Counters>> counters_;
};

}  // namespace ptserve

#endif  // PTSERVE_SERVING_REQUEST_STATISTICS_H_
