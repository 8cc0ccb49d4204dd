// Operator-level profiling on demand: what a caller asks for and what it gets
// back. Library-free (no libtorch), so the repository and the management API
// see only these types; profiling/profiler.* captures them with libtorch.
//
//   ProfileRequest request{.executions = 5, .timeout = std::chrono::seconds(30)};
//   absl::Status armed = version->Profile(request, [](ProfileReport report) {
//     // report.operators: by self time; report.trace_json: Chrome trace
//   });
#ifndef PTSERVE_PROFILING_PROFILE_H_
#define PTSERVE_PROFILING_PROFILE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ptserve::profiling {

struct ProfileRequest {
  // How many executions (batches) of the model to capture, from the next one.
  int executions = 10;
  // The capture answers with what it has when this passes.
  std::chrono::milliseconds timeout{30000};
};

// One operator (by name), summed over every captured execution.
struct OperatorStats {
  std::string name;        // e.g. "aten::addmm"
  int64_t calls = 0;
  double self_us = 0;      // inside the operator, minus the operators it called
  double total_us = 0;     // inside the operator, nested calls included (a
                           // recursive operator counts its outermost call)
  double self_share = 0;   // self_us over the self time of all operators
};

struct ProfileReport {
  int requested = 0;       // ProfileRequest::executions
  int executions = 0;      // captured; less than requested when timed out
  bool timed_out = false;
  double total_us = 0;     // wall time of the captured executions (forward())
  double operator_us = 0;  // self time of all operators (the shares' base)
  std::vector<OperatorStats> operators;  // by self time, largest first
  // Chrome trace event format ({"traceEvents": [...]}), loadable in
  // chrome://tracing and ui.perfetto.dev. Timestamps in µs from the first
  // captured execution.
  std::string trace_json;
};

// Runs exactly once per armed capture, on the profiler's own thread.
using ProfileCallback = std::function<void(ProfileReport)>;

}  // namespace ptserve::profiling

#endif  // PTSERVE_PROFILING_PROFILE_H_
