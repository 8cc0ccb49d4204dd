// OpRecorder: records the libtorch operators one thread runs, with
// libtorch's (legacy, thread-local) profiler, between Start() and Stop().
// Library-free header; op_recorder.cc is the file that includes libtorch.
//
//   OpRecorder recorder;
//   if (recorder.Start().ok()) { module.forward(...); trace = recorder.Stop(); }
//
// Only the calling thread (and tasks it launches with at::launch) is
// profiled: other models' and instances' threads run unobserved and at full
// speed. Not thread-safe: Start and Stop on the same thread.
#ifndef PTSERVE_PROFILING_OP_RECORDER_H_
#define PTSERVE_PROFILING_OP_RECORDER_H_

#include <memory>

#include "absl/status/status.h"
#include "profiling/report.h"

namespace ptserve::profiling {

class OpRecorder {
 public:
  OpRecorder();
  ~OpRecorder();  // stops a recording still running, dropping its events
  OpRecorder(const OpRecorder&) = delete;
  OpRecorder& operator=(const OpRecorder&) = delete;

  // FailedPrecondition when this thread is already being profiled.
  absl::Status Start();
  // The execution between Start() and now: its span and its operators.
  ExecutionTrace Stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ptserve::profiling

#endif  // PTSERVE_PROFILING_OP_RECORDER_H_
