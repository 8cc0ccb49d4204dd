#include "profiling/profiler.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "profiling/report.h"

namespace ptserve::profiling {

// One armed capture: claims executions for recording, collects their traces
// and is delivered once by the Profiler. Lock order: a target's mutex, then
// a capture's, then the Profiler's.
class Capture {
 public:
  Capture(Profiler* profiler, ProfileRequest request, ProfileCallback done, SteadyTime deadline,
          std::string label)
      : profiler_(profiler),
        request_(request),
        done_(std::move(done)),
        deadline_(deadline),
        label_(std::move(label)) {}

  SteadyTime deadline() const { return deadline_; }

  // Takes one of the executions still wanted; false when none is.
  bool Claim() {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || claimed_ >= request_.executions) return false;
    ++claimed_;
    return true;
  }

  // A claimed execution ended; nullopt when its recording could not start.
  void Finish(std::optional<ExecutionTrace> trace) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;  // delivered without it (timeout)
    ++finished_;
    if (trace) traces_.push_back(std::move(*trace));
    // Under the lock: a delivered capture never touches its Profiler again,
    // so the Profiler may be gone once it has delivered them all.
    if (finished_ == request_.executions) profiler_->Wake();
  }

  // Due at once (its target went away).
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    cancelled_ = true;
    profiler_->Wake();
  }

  bool closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  bool Due(SteadyTime now) {
    std::lock_guard<std::mutex> lock(mu_);
    return !closed_ && (finished_ >= request_.executions || cancelled_ || now >= deadline_);
  }

  // Closes the capture (later executions are not waited for) and runs the
  // callback with what it holds. Once.
  void Deliver() {
    std::vector<ExecutionTrace> traces;
    bool short_of_request;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
      traces = std::move(traces_);
      short_of_request = finished_ < request_.executions;
    }
    done_(BuildReport(request_.executions, short_of_request, absl::StrCat("ptserve ", label_),
                      traces));
  }

 private:
  Profiler* const profiler_;
  const ProfileRequest request_;
  const ProfileCallback done_;
  const SteadyTime deadline_;
  const std::string label_;
  std::mutex mu_;
  int claimed_ = 0;    // guarded by mu_
  int finished_ = 0;   // guarded by mu_
  bool cancelled_ = false;  // guarded by mu_
  bool closed_ = false;     // guarded by mu_
  std::vector<ExecutionTrace> traces_;  // guarded by mu_
};

Profiler::Profiler(Options options) : options_(options) {}

Profiler::~Profiler() {
  std::vector<std::shared_ptr<Capture>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    open.swap(captures_);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (const auto& capture : open) capture->Deliver();
}

void Profiler::Add(std::shared_ptr<Capture> capture) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    captures_.push_back(std::move(capture));
    wake_ = true;
    if (options_.background_thread && !thread_.joinable() && !stop_) {
      thread_ = std::thread([this] { Loop(); });
    }
  }
  cv_.notify_all();
}

void Profiler::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

int Profiler::RunOnce() {
  std::vector<std::shared_ptr<Capture>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all = captures_;
  }
  const SteadyTime now = options_.clock->Now();
  std::vector<std::shared_ptr<Capture>> due;
  for (const auto& capture : all) {
    if (capture->Due(now)) due.push_back(capture);
  }
  if (due.empty()) return 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(captures_, [&](const std::shared_ptr<Capture>& c) {
      return std::find(due.begin(), due.end(), c) != due.end();
    });
  }
  for (const auto& capture : due) capture->Deliver();
  return static_cast<int>(due.size());
}

// Sleeps until the earliest deadline or a Wake(), then delivers what is due.
void Profiler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto woken = [this] { return stop_ || wake_; };
  while (!stop_) {
    if (captures_.empty()) {
      cv_.wait(lock, woken);
    } else {
      SteadyTime next = SteadyTime::max();
      for (const auto& capture : captures_) next = std::min(next, capture->deadline());
      cv_.wait_until(lock, next, woken);
    }
    if (stop_) break;
    wake_ = false;
    lock.unlock();
    RunOnce();
    lock.lock();
  }
}

Recording::Recording(std::shared_ptr<Capture> capture, int64_t batch_size)
    : capture_(std::move(capture)), batch_size_(batch_size) {}

Recording::~Recording() {
  if (!started_) {
    capture_->Finish(std::nullopt);
    return;
  }
  ExecutionTrace trace = recorder_.Stop();
  trace.batch_size = batch_size_;
  capture_->Finish(std::move(trace));
}

ProfileTarget::ProfileTarget(Profiler* profiler, std::string label)
    : profiler_(profiler), label_(std::move(label)) {}

ProfileTarget::~ProfileTarget() {
  std::lock_guard<std::mutex> lock(mu_);
  if (capture_) capture_->Cancel();
}

absl::Status ProfileTarget::Arm(const ProfileRequest& request, ProfileCallback done) {
  if (request.executions < 1) {
    return absl::InvalidArgumentError("a profile needs at least one execution");
  }
  if (request.timeout < std::chrono::milliseconds(1)) {
    return absl::InvalidArgumentError("a profile needs a timeout of at least 1 ms");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (capture_ && !capture_->closed()) {
    return absl::AlreadyExistsError(
        absl::StrCat("a profile of ", label_, " is already being captured"));
  }
  capture_ = std::make_shared<Capture>(profiler_, request, std::move(done),
                                       profiler_->options_.clock->Now() + request.timeout, label_);
  profiler_->Add(capture_);
  armed_.store(true, std::memory_order_relaxed);
  return absl::OkStatus();
}

std::unique_ptr<Recording> ProfileTarget::MaybeRecord(int64_t batch_size) {
  std::shared_ptr<Capture> capture;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!capture_ || !capture_->Claim()) {
      armed_.store(false, std::memory_order_relaxed);  // all claimed, or closed
      return nullptr;
    }
    capture = capture_;
  }
  std::unique_ptr<Recording> recording(new Recording(std::move(capture), batch_size));
  recording->started_ = recording->recorder_.Start().ok();
  return recording;
}

}  // namespace ptserve::profiling
