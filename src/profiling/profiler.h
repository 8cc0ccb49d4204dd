// Profiler and ProfileTarget: arm a capture of a model's next N executions,
// record them with libtorch's profiler on the threads that run them, and
// answer with a ProfileReport once they are done or the timeout passes.
//
//   Profiler profiler;                                  // one per process (the backend's)
//   ProfileTarget target(&profiler, "mlp:1");           // one per loaded model version
//   target.Arm({.executions = 5}, [](ProfileReport r) { ... });   // management side
//
//   // In the model's execution path (any instance thread):
//   std::unique_ptr<Recording> recording;
//   if (target.armed()) recording = target.MaybeRecord(batch_size);
//   RunForward();
//   recording.reset();   // hands the execution to the capture
//
// Off by default, and then free: armed() is one relaxed atomic load, and no
// profiler callback is installed anywhere. While armed, only the claimed
// executions run under the profiler (on their own thread); others do not.
//
// The callback runs on the Profiler's thread (started at the first capture),
// never on an instance thread: building the report takes a while.
#ifndef PTSERVE_PROFILING_PROFILER_H_
#define PTSERVE_PROFILING_PROFILER_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/clock.h"
#include "core/tensor.h"
#include "profiling/op_recorder.h"
#include "profiling/profile.h"

namespace ptserve::profiling {

class Capture;

// Finishes captures: when their executions are all recorded, when their
// deadline passes, or when their target goes away. Thread-safe.
class Profiler {
 public:
  struct Options {
    Clock* clock = Clock::Real();  // not owned
    // Off in tests, which call RunOnce() themselves.
    bool background_thread = true;
  };
  Profiler() : Profiler(Options{}) {}
  explicit Profiler(Options options);
  // Finishes every open capture with what it has (callbacks run here).
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  // Finishes the captures that are due; returns how many.
  int RunOnce();

 private:
  friend class ProfileTarget;
  friend class Capture;
  void Add(std::shared_ptr<Capture> capture);
  void Wake();
  void Loop();

  const Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Capture>> captures_;  // guarded by mu_
  bool wake_ = false;                               // guarded by mu_
  bool stop_ = false;                               // guarded by mu_
  std::thread thread_;                              // started by the first Add
};

// An execution being recorded; destroying it stops the recording and hands
// the execution to its capture. Lives on one thread.
class Recording {
 public:
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

 private:
  friend class ProfileTarget;
  Recording(std::shared_ptr<Capture> capture, int64_t batch_size);

  std::shared_ptr<Capture> capture_;
  int64_t batch_size_;
  OpRecorder recorder_;
  bool started_ = false;
};

// One model version's profiling switch. Thread-safe.
class ProfileTarget {
 public:
  // `profiler` is not owned and outlives this target; `label` names the
  // model in traces, e.g. "mlp:1".
  ProfileTarget(Profiler* profiler, std::string label);
  // An open capture finishes now, with what it has.
  ~ProfileTarget();

  // Captures the next `request.executions` executions; `done` runs once, on
  // the profiler's thread, when they are recorded or at the timeout. Errors
  // (and then `done` never runs): AlreadyExists while a capture is open,
  // InvalidArgument for executions < 1 or a timeout < 1 ms.
  absl::Status Arm(const ProfileRequest& request, ProfileCallback done);

  // Whether a capture is waiting for executions: the only cost when off.
  bool armed() const { return armed_.load(std::memory_order_relaxed); }

  // When the armed capture still wants an execution, starts recording this
  // one on the calling thread; null otherwise (not armed, or all claimed).
  std::unique_ptr<Recording> MaybeRecord(int64_t batch_size);
  // MaybeRecord for an execution of `inputs`, behind armed() (one relaxed load
  // while off): the batch size is dimension 0 of the first input when the
  // model batches, else 0.
  std::unique_ptr<Recording> RecordIfArmed(const std::vector<Tensor>& inputs, bool batched) {
    if (!armed()) return nullptr;
    return MaybeRecord(batched && !inputs.empty() && !inputs[0].shape().empty()
                           ? inputs[0].shape()[0]
                           : 0);
  }

 private:
  Profiler* const profiler_;
  const std::string label_;
  std::atomic<bool> armed_{false};
  std::mutex mu_;
  std::shared_ptr<Capture> capture_;  // guarded by mu_; the latest one
};

}  // namespace ptserve::profiling

#endif  // PTSERVE_PROFILING_PROFILER_H_
