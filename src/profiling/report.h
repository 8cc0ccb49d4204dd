// Turns the operator ranges recorded during captured executions into a
// ProfileReport: the operators by self time and a Chrome trace. Library-free
// and pure, so it is unit-tested on hand-made events.
#ifndef PTSERVE_PROFILING_REPORT_H_
#define PTSERVE_PROFILING_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "profiling/profile.h"

namespace ptserve::profiling {

// One completed operator range, in µs of one steady clock.
struct OperatorEvent {
  std::string name;
  uint64_t thread = 0;
  double start_us = 0;
  double end_us = 0;
};

// One captured execution: forward() itself and the operators it ran (on any
// thread, in any order; ranges of one thread nest).
struct ExecutionTrace {
  uint64_t thread = 0;
  double start_us = 0;
  double end_us = 0;
  int64_t batch_size = 0;  // 0: not batched
  std::vector<OperatorEvent> events;
};

// `process_name` labels the trace (e.g. "ptserve mlp:1").
ProfileReport BuildReport(int requested, bool timed_out, const std::string& process_name,
                          const std::vector<ExecutionTrace>& executions);

}  // namespace ptserve::profiling

#endif  // PTSERVE_PROFILING_REPORT_H_
