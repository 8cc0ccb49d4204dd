#include "profiling/op_recorder.h"

#include <ATen/record_function.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <optional>

#include "absl/strings/str_cat.h"

namespace ptserve::profiling {
namespace {

namespace legacy = torch::autograd::profiler;

// The range Start() opens around the execution: its span is the
// execution's, and it is no operator.
constexpr char kExecutionRange[] = "ptserve::execution";

}  // namespace

struct OpRecorder::State {
  bool recording = false;
  std::optional<at::RecordFunction> execution;
};

OpRecorder::OpRecorder() : state_(std::make_unique<State>()) {}

OpRecorder::~OpRecorder() {
  if (state_->recording) Stop();
}

absl::Status OpRecorder::Start() {
  if (state_->recording) return absl::FailedPreconditionError("already recording");
  try {
    // CPU events only, no shapes or stacks: the cheapest the profiler runs.
    legacy::enableProfilerLegacy(
        torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start libtorch's profiler on this thread: ", e.what()));
  }
  state_->recording = true;
  state_->execution.emplace(at::RecordScope::USER_SCOPE);
  if (state_->execution->isActive()) state_->execution->before(kExecutionRange);
  return absl::OkStatus();
}

ExecutionTrace OpRecorder::Stop() {
  ExecutionTrace trace;
  if (!state_->recording) return trace;
  state_->execution.reset();  // closes the execution's range
  state_->recording = false;
  legacy::thread_event_lists lists;
  try {
    lists = legacy::disableProfilerLegacy();
  } catch (const std::exception&) {
    return trace;  // nothing recorded is usable
  }
  // Each list is one thread's events in order; ranges open (push) and close
  // (pop, same handle) LIFO.
  for (const std::vector<legacy::LegacyEvent>& list : lists) {
    std::vector<const legacy::LegacyEvent*> open;
    for (const legacy::LegacyEvent& e : list) {
      if (e.kind() == legacy::EventKind::PushRange) {
        open.push_back(&e);
        continue;
      }
      if (e.kind() != legacy::EventKind::PopRange || open.empty()) continue;
      auto it = open.end() - 1;
      while (it != open.begin() && (*it)->handle() != e.handle()) --it;
      if ((*it)->handle() != e.handle()) it = open.end() - 1;
      const legacy::LegacyEvent& push = **it;
      open.erase(it);
      if (std::string_view(push.name()) == kExecutionRange) {
        trace.thread = push.threadId();
        trace.start_us = push.cpuUs();
        trace.end_us = e.cpuUs();
        continue;
      }
      trace.events.push_back({push.name(), push.threadId(), push.cpuUs(), e.cpuUs()});
    }
  }
  return trace;
}

}  // namespace ptserve::profiling
