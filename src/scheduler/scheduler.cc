#include "scheduler/scheduler.h"

#include <algorithm>
#include <exception>
#include <new>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace {

// What an exception says, for messages.
std::string Describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    return "out of memory (std::bad_alloc)";
  } catch (const std::exception& e) {
    // Multi-line messages (e.g. a TorchScript traceback) are cut to their
    // first line and their last, which names the root cause.
    const std::string_view what = e.what();
    const size_t first_end = what.find('\n');
    if (first_end == std::string_view::npos) return std::string(what);
    std::string_view rest = what.substr(first_end);
    while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
    const size_t last_start = rest.rfind('\n');
    std::string_view last = last_start == std::string_view::npos ? rest : rest.substr(last_start + 1);
    while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
    std::string out(what.substr(0, first_end));
    if (!last.empty()) out.append(" ").append(last);
    return out;
  } catch (...) {
    return "an unknown exception";
  }
}

// How long a worker or the timer backs off after an unexpected exception in
// its own bookkeeping (so that a persistent failure does not spin).
constexpr auto kBackOff = std::chrono::milliseconds(10);

// Tells schedulers apart for RunInline's record of what a thread is bound to.
std::atomic<uint64_t> next_scheduler_id{1};

// The scheduler (by id) and instance this thread last ran an inline request
// on: BindToThread runs again only when that changes.
thread_local uint64_t inline_bound_scheduler = 0;
thread_local size_t inline_bound_instance = 0;

BatchLimits MakeBatchLimits(const SchedulerOptions& options) {
  BatchLimits limits;
  limits.max_elements = options.max_batch_elements > 0 ? options.max_batch_elements : INT64_MAX;
  limits.max_bytes = options.max_batch_bytes > 0 ? options.max_batch_bytes : INT64_MAX;
  limits.input_names = options.input_names;
  return limits;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(
    SchedulerOptions options, std::vector<std::unique_ptr<ModelInstance>> instances) {
  if (instances.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("model '", options.name, "' has no instances"));
  }
  if (options.max_queue_size == 0) {
    return absl::InvalidArgumentError("max_queue_size must be at least 1");
  }
  // One queue per level is allocated up front: bounded whatever the caller
  // passes (configs are range-checked to 1024 levels already).
  constexpr int kMaxLevels = 1 << 16;
  if (options.priority_levels > kMaxLevels) {
    return absl::InvalidArgumentError(absl::StrCat("priority_levels ", options.priority_levels,
                                                   " is outside 0..", kMaxLevels));
  }
  if (options.priority_levels < 0 || options.default_priority_level < 0 ||
      options.default_priority_level > options.priority_levels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "default_priority_level ", options.default_priority_level, " is outside 1..",
        options.priority_levels));
  }
  if (options.clock == nullptr) options.clock = Clock::Real();
  std::unique_ptr<Scheduler> scheduler;
  try {
    scheduler.reset(new Scheduler(std::move(options), std::move(instances)));
  } catch (...) {
    return absl::InternalError(absl::StrCat("cannot create the scheduler: ",
                                            Describe(std::current_exception())));
  }
  absl::Status started = scheduler->Start();
  if (!started.ok()) return started;
  return scheduler;
}

Scheduler::Scheduler(SchedulerOptions options,
                     std::vector<std::unique_ptr<ModelInstance>> instances)
    : options_(std::move(options)),
      batch_limits_(MakeBatchLimits(options_)),
      instances_(std::move(instances)),
      id_(next_scheduler_id.fetch_add(1)) {
  queues_.resize(std::max(1, options_.priority_levels) + 1);
  MutexLock lock(mu_);
  instance_busy_.assign(instances_.size(), false);
}

absl::Status Scheduler::Start() {
  try {
    workers_.reserve(instances_.size());
    thread_ids_.reserve(instances_.size() + 1);
    for (size_t i = 0; i < instances_.size(); ++i) {
      workers_.emplace_back([this, i] { WorkerLoop(i); });
    }
    timer_ = std::thread([this] { TimerLoop(); });
  } catch (...) {
    const std::string why = Describe(std::current_exception());
    const size_t started = workers_.size();
    // Nothing is queued yet: the started threads exit at once.
    {
      MutexLock lock(mu_);
      stopping_ = true;
      timer_stop_ = true;
    }
    work_cv_.NotifyAll();
    timer_cv_.NotifyAll();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
    if (timer_.joinable()) timer_.join();
    std::call_once(drain_once_, [] {});  // the destructor has nothing left to join
    return absl::InternalError(absl::StrCat(
        "model '", options_.name, "': cannot start its ", instances_.size(),
        " instance threads (started ", started, "): ", why));
  }
  for (const std::thread& worker : workers_) thread_ids_.push_back(worker.get_id());
  thread_ids_.push_back(timer_.get_id());
  return absl::OkStatus();
}

bool Scheduler::OnSchedulerThread() const {
  const std::thread::id me = std::this_thread::get_id();
  return std::find(thread_ids_.begin(), thread_ids_.end(), me) != thread_ids_.end();
}

Scheduler::~Scheduler() { Drain(); }

void Scheduler::Drain() {
  std::call_once(drain_once_, [this] {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    work_cv_.NotifyAll();
    for (auto& worker : workers_) worker.join();
    {
      MutexLock lock(mu_);
      // Inline runs end on their callers' threads (RunInline wakes us).
      while (inline_running_ > 0) work_cv_.Wait(mu_);
      timer_stop_ = true;
    }
    timer_cv_.NotifyAll();
    timer_.join();
  });
}

size_t Scheduler::LevelOf(const ScheduledRequest& r) const {
  const int levels = std::max(1, options_.priority_levels);
  int level = r.priority.value_or(0);
  if (level == 0) level = options_.default_priority_level == 0 ? levels : options_.default_priority_level;
  return static_cast<size_t>(std::clamp(level, 1, levels) - 1);
}

absl::StatusOr<uint64_t> Scheduler::Enqueue(ScheduledRequest request) {
  if (request.priority.has_value() &&
      (*request.priority < 0 || *request.priority > std::max(1, options_.priority_levels))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "priority ", *request.priority, " is outside 1..", std::max(1, options_.priority_levels),
        " for model '", options_.name, "'"));
  }
  if (options_.dynamic_batching && options_.max_batch_size > 0) {
    absl::Status fits = CheckItemFootprint(request.inputs, options_.padding, batch_limits_);
    if (!fits.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model '", options_.name, "': ", fits.message()));
    }
  }
  const SteadyTime now = options_.clock->Now();
  int64_t timeout_us = options_.default_timeout_us;
  if (request.timeout_us.has_value() && options_.allow_timeout_override) {
    timeout_us = *request.timeout_us;
  }
  // Saturates: a deadline past the end of time is no deadline at all.
  std::optional<SteadyTime> deadline;
  if (timeout_us > 0) {
    const SteadyTime at = SaturatingAddMicros(now, timeout_us);
    if (at != SteadyTime::max()) deadline = at;
  }
  const size_t level = LevelOf(request);
  const bool batching = options_.max_batch_size > 0;
  bool wake_timer = false;
  bool wake_all = false;
  uint64_t ticket;
  {
    MutexLock lock(mu_);
    if (stopping_) {
      return absl::UnavailableError(absl::StrCat("model '", options_.name, "' is shutting down"));
    }
    const bool idle = queued_ == 0 && in_flight_ == 0;
    idle_arrivals_ = idle ? std::min(idle_arrivals_ + 1, kInlineIdleStreak) : 0;
    if (options_.inline_when_idle && idle && idle_arrivals_ >= kInlineIdleStreak &&
        recent_compute_us_ >= 0 && recent_compute_us_ <= kMaxInlineComputeUs &&
        ++eligible_arrivals_ % kInlineProbeInterval != 0) {
      const int64_t rows = batching ? ItemRows(request.inputs) : 1;
      const auto free = std::find(instance_busy_.begin(), instance_busy_.end(), false);
      if (free != instance_busy_.end() && RunsAloneAtOnce(rows)) {
        CpuBudget::Lease lease(options_.cpu_budget.get(), options_.threads_per_execution,
                               std::try_to_lock);
        if (lease.owns()) {
          const size_t index = static_cast<size_t>(free - instance_busy_.begin());
          *free = true;
          ++inline_running_;
          ++in_flight_;
          ticket = next_ticket_++;
          Item item{ticket, next_sequence_++, std::move(request), rows, now, deadline};
          lock.Unlock();
          RunInline(index, std::move(item), std::move(lease));
          return ticket;
        }
      }
    }
    if (queued_ >= options_.max_queue_size) {
      ++stats_.rejected;
      return absl::UnavailableError(absl::StrCat("the queue of model '", options_.name,
                                                 "' is full (", options_.max_queue_size,
                                                 " requests waiting)"));
    }
    Item item{next_ticket_, next_sequence_, std::move(request), 1, now, deadline};
    if (batching) item.rows = ItemRows(item.request.inputs);
    try {
      queues_[level].push_back(std::move(item));
    } catch (const std::exception& e) {  // std::bad_alloc: the request is refused, not lost
      return absl::UnavailableError(absl::StrCat("model '", options_.name,
                                                 "' cannot queue the request: ", e.what()));
    }
    ticket = next_ticket_++;
    ++next_sequence_;
    ++queued_;
    if (deadline && (!timer_wake_ || *deadline < *timer_wake_)) {
      timer_wake_ = deadline;
      wake_timer = true;
    }
    // A worker whose instance runs inline cannot take the request: wake them
    // all so that a free one does.
    wake_all = inline_running_ > 0;
  }
  arrivals_.fetch_add(1, std::memory_order_release);
  if (wake_all) {
    work_cv_.NotifyAll();
  } else {
    work_cv_.NotifyOne();
  }
  if (wake_timer) timer_cv_.NotifyOne();
  return ticket;
}

bool Scheduler::RunsAloneAtOnce(int64_t rows) const {
  if (!options_.dynamic_batching || options_.max_batch_size == 0) return true;
  return options_.max_queue_delay_us == 0 || rows >= options_.max_batch_size || IsPreferred(rows);
}

void Scheduler::RunInline(size_t index, Item item, CpuBudget::Lease lease) {
  ModelInstance* instance = instances_[index].get();
  if (inline_bound_scheduler != id_ || inline_bound_instance != index) {
    try {
      instance->BindToThread();
    } catch (...) {
      spdlog::error("model '{}': preparing instance {} on a network thread failed: {}",
                    options_.name, instance->Describe(), Describe(std::current_exception()));
    }
    inline_bound_scheduler = id_;
    inline_bound_instance = index;
  }
  std::vector<Item> batch;
  try {
    batch.push_back(std::move(item));
  } catch (...) {
    // Out of memory before anything ran: the request is answered, not lost.
  }
  if (batch.empty()) {
    InferenceTiming timing;
    Finish(item, absl::ResourceExhaustedError("out of memory"), timing);
  } else {
    RunBatch(instance, batch, &lease);
  }
  {
    CpuBudget::Lease released = std::move(lease);  // slots back before the workers look
  }
  batch.clear();  // the finished request and what its callback holds, outside the lock
  bool wake = false;
  {
    MutexLock lock(mu_);
    instance_busy_[index] = false;
    --inline_running_;
    --in_flight_;
    wake = queued_ > 0 || stopping_;
  }
  if (wake) work_cv_.NotifyAll();
}

bool Scheduler::Cancel(uint64_t ticket) {
  std::optional<Item> found;
  {
    MutexLock lock(mu_);
    for (auto& queue : queues_) {
      auto it = std::find_if(queue.begin(), queue.end(),
                             [&](const Item& item) { return item.ticket == ticket; });
      if (it != queue.end()) {
        found = std::move(*it);
        queue.erase(it);
        --queued_;
        ++stats_.cancelled;
        break;
      }
    }
  }
  if (!found) return false;
  InferenceTiming timing;
  timing.queue_us = MicrosBetween(found->enqueued, options_.clock->Now());
  Finish(*found, absl::CancelledError("the client closed the connection"), timing);
  return true;
}

bool Scheduler::IsPreferred(int64_t rows) const {
  return std::find(options_.preferred_batch_sizes.begin(), options_.preferred_batch_sizes.end(),
                   rows) != options_.preferred_batch_sizes.end();
}

bool Scheduler::TakeBatch(std::vector<Item>* batch, std::optional<SteadyTime>* wake) {
  size_t first_level = queues_.size();
  for (size_t l = 0; l < queues_.size(); ++l) {
    if (!queues_[l].empty()) {
      first_level = l;
      break;
    }
  }
  if (first_level == queues_.size()) return false;
  std::deque<Item>& head_queue = queues_[first_level];
  if (!options_.dynamic_batching || options_.max_batch_size == 0) {
    batch->push_back(std::move(head_queue.front()));
    head_queue.pop_front();
    return true;
  }
  // Gather compatible requests in priority then arrival order.
  const Item& oldest = head_queue.front();
  const int64_t max_rows = options_.max_batch_size;
  struct Pick {
    size_t level;
    size_t index;
  };
  std::vector<Pick> picks{{first_level, 0}};
  int64_t rows = oldest.rows;
  std::vector<int64_t> prefix_rows{rows};
  // The batch's tensors as they grow: a request that would push them over
  // the limits stays queued for another batch (it fits one on its own:
  // Enqueue checked its footprint).
  BatchExtent extent(options_.padding, batch_limits_);
  const bool bounded = extent.Add(oldest.request.inputs).ok();
  const size_t scan_limit = static_cast<size_t>(4 * max_rows + 16);
  size_t scanned = 0;
  for (size_t l = first_level; l < queues_.size() && rows < max_rows && scanned < scan_limit; ++l) {
    for (size_t i = (l == first_level ? 1 : 0);
         i < queues_[l].size() && rows < max_rows && scanned < scan_limit; ++i, ++scanned) {
      const Item& item = queues_[l][i];
      if (rows + item.rows > max_rows) continue;
      if (!Compatible(oldest.request.inputs, item.request.inputs, options_.padding)) continue;
      if (!bounded || !extent.Add(item.request.inputs).ok()) continue;
      picks.push_back({l, i});
      rows += item.rows;
      prefix_rows.push_back(rows);
    }
  }
  size_t take = picks.size();
  bool ready = rows >= max_rows || options_.max_queue_delay_us == 0 || stopping_;
  if (!options_.preferred_batch_sizes.empty()) {
    // The largest prefix that makes a preferred size goes at once, and the
    // batch stops there even when more is queued (Triton's preferred sizes:
    // what self-tuning sets to bound the batch a worker forms under load).
    for (size_t n = picks.size(); n > 0; --n) {
      if (IsPreferred(prefix_rows[n - 1])) {
        take = n;
        ready = true;
        break;
      }
    }
  }
  const SteadyTime due = SaturatingAddMicros(oldest.enqueued, options_.max_queue_delay_us);
  if (!ready && options_.clock->Now() >= due) ready = true;
  if (!ready) {
    *wake = due;
    return false;
  }
  picks.resize(take);
  batch->reserve(take);
  for (const Pick& p : picks) batch->push_back(std::move(queues_[p.level][p.index]));
  // Erase from the back so earlier indices stay valid.
  for (auto it = picks.rbegin(); it != picks.rend(); ++it) {
    queues_[it->level].erase(queues_[it->level].begin() + it->index);
  }
  return true;
}

bool Scheduler::SpinForWork() {
  // Real time, not options_.clock: the spin spends CPU time, it schedules nothing.
  const uint64_t seen = arrivals_.load(std::memory_order_acquire);
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::microseconds(options_.worker_spin_us);
  mu_.Unlock();
  bool arrived = false;
  while (!arrived && std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 64 && !arrived; ++i) {
      arrived = arrivals_.load(std::memory_order_acquire) != seen;
    }
  }
  mu_.Lock();
  return arrived || queued_ > 0 || stopping_;
}

void Scheduler::WorkerLoop(size_t index) {
  ModelInstance* instance = instances_[index].get();
  try {
    instance->BindToThread();
  } catch (...) {
    spdlog::error("model '{}': preparing instance {} failed: {}", options_.name,
                  instance->Describe(), Describe(std::current_exception()));
  }
  MutexLock lock(mu_);
  while (true) {
    std::vector<Item> batch;
    std::optional<SteadyTime> wake;
    bool took = false;
    if (instance_busy_[index]) {  // running an inline request: not this worker's turn
      if (stopping_ && queued_ == 0) break;
      work_cv_.Wait(mu_);
      continue;
    }
    try {
      took = TakeBatch(&batch, &wake);
    } catch (...) {
      // TakeBatch moves no request out of the queue before it can no
      // longer throw; retry after a pause.
      spdlog::error("model '{}': forming a batch failed: {}", options_.name,
                    Describe(std::current_exception()));
      batch.clear();
      wake = SaturatingAddMicros(options_.clock->Now(),
                                 std::chrono::microseconds(kBackOff).count());
    }
    if (took) {
      queued_ -= batch.size();
      in_flight_ += batch.size();
      instance_busy_[index] = true;
      const bool more = queued_ > 0;
      lock.Unlock();
      if (more) work_cv_.NotifyOne();
      RunBatch(instance, batch);
      const size_t finished = batch.size();
      // Destroy the finished requests (their callbacks and whatever those
      // hold) outside the lock.
      batch.clear();
      lock.Lock();
      in_flight_ -= finished;
      instance_busy_[index] = false;
      continue;
    }
    if (stopping_ && queued_ == 0) break;
    if (!wake && options_.worker_spin_us > 0 && SpinForWork()) continue;
    if (wake) {
      options_.clock->WaitUntil(work_cv_, mu_, *wake);
    } else {
      work_cv_.Wait(mu_);
    }
  }
}

absl::StatusOr<std::vector<std::vector<Tensor>>> Scheduler::ExecuteGuarded(
    ModelInstance* instance, const std::vector<const ItemInputs*>& items, int64_t rows) {
  try {
    absl::StatusOr<std::vector<Tensor>> inputs = GatherInputs(items, options_.padding,
                                                              batch_limits_);
    if (!inputs.ok()) return inputs.status();
    absl::StatusOr<std::vector<Tensor>> outputs = instance->Execute(*inputs);
    if (!outputs.ok()) return outputs.status();
    if (options_.max_batch_size == 0) {
      return std::vector<std::vector<Tensor>>{std::move(*outputs)};
    }
    return ScatterOutputs(*outputs, items, options_.padding, options_.trim_outputs);
  } catch (...) {
    const std::string why = Describe(std::current_exception());
    spdlog::error("model '{}' failed on a batch of {} row(s): {}", options_.name, rows, why);
    return absl::InternalError(absl::StrCat("model '", options_.name, "' failed: ", why));
  }
}

void Scheduler::RunBatch(ModelInstance* instance, std::vector<Item>& batch,
                         CpuBudget::Lease* lease) {
  std::vector<const ItemInputs*> items;
  int64_t rows = 0;
  absl::StatusOr<std::vector<std::vector<Tensor>>> split;
  SteadyTime start = options_.clock->Now();
  SteadyTime end = start;
  try {
    items.reserve(batch.size());
    for (const Item& item : batch) {
      items.push_back(&item.request.inputs);
      rows += item.rows;
    }
    // Waiting for a CPU slot counts as queue time, not compute time.
    std::optional<CpuBudget::Lease> own_lease;
    if (lease == nullptr)
      own_lease.emplace(options_.cpu_budget.get(), options_.threads_per_execution);
    start = options_.clock->Now();
    split = ExecuteGuarded(instance, items, rows);
    end = options_.clock->Now();
  } catch (...) {
    split = absl::InternalError(absl::StrCat("model '", options_.name, "' failed: ",
                                             Describe(std::current_exception())));
    end = options_.clock->Now();
  }
  if (split.ok() && split->size() != batch.size()) {
    split = absl::InternalError(absl::StrCat("model '", options_.name, "': the batch of ",
                                             batch.size(), " requests was split into ",
                                             split->size()));
  }
  try {
    if (options_.metrics) options_.metrics->RecordExecution(rows);
  } catch (...) {
    spdlog::warn("model '{}': recording metrics failed: {}", options_.name,
                 Describe(std::current_exception()));
  }
  {
    MutexLock lock(mu_);
    ++stats_.executions;
    stats_.inferences += rows;
    const int64_t compute_us = std::max<int64_t>(0, MicrosBetween(start, end));
    recent_compute_us_ =
        recent_compute_us_ < 0 ? compute_us : (3 * recent_compute_us_ + compute_us) / 4;
    if (split.ok()) {
      BatchExecutionStats& by_size = stats_.batches[rows];
      ++by_size.count;
      by_size.compute_ns +=
          static_cast<uint64_t>(std::max<int64_t>(0, MicrosBetween(start, end))) * 1000;
    }
    (split.ok() ? stats_.requests_ok : stats_.requests_failed) += batch.size();
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    InferenceTiming timing;
    timing.queue_us = MicrosBetween(batch[i].enqueued, start);
    timing.compute_us = MicrosBetween(start, end);
    timing.batch_size = rows;
    if (split.ok()) {
      Finish(batch[i], std::move((*split)[i]), timing);
    } else {
      Finish(batch[i], split.status(), timing);
    }
  }
}

void Scheduler::TimerLoop() {
  MutexLock lock(mu_);
  while (!timer_stop_) {
    const SteadyTime now = options_.clock->Now();
    std::vector<Item> expired;
    std::optional<SteadyTime> earliest;
    try {
      for (size_t l = 0; l + 1 < queues_.size(); ++l) {
        std::deque<Item>& queue = queues_[l];
        for (auto it = queue.begin(); it != queue.end();) {
          if (!it->deadline) {
            ++it;
          } else if (*it->deadline <= now) {
            expired.push_back(std::move(*it));  // strong guarantee: *it stays on failure
            it = queue.erase(it);
          } else {
            if (!earliest || *it->deadline < *earliest) earliest = it->deadline;
            ++it;
          }
        }
      }
    } catch (...) {
      // Answer what was collected; look again soon for the rest.
      spdlog::error("model '{}': checking queue deadlines failed: {}", options_.name,
                    Describe(std::current_exception()));
      earliest = SaturatingAddMicros(now, std::chrono::microseconds(kBackOff).count());
    }
    std::vector<Item> rejected;
    if (options_.timeout_delays) {
      for (Item& item : expired) {
        item.deadline.reset();  // the last queue: after everything within its deadline
        try {
          queues_.back().push_back(std::move(item));
        } catch (...) {
          rejected.push_back(std::move(item));  // cannot be delayed: rejected instead
        }
      }
    } else {
      rejected = std::move(expired);
    }
    expired.clear();
    queued_ -= rejected.size();
    stats_.timed_out += rejected.size();
    timer_wake_ = earliest;
    if (!rejected.empty()) {
      lock.Unlock();
      for (Item& item : rejected) {
        InferenceTiming timing;
        timing.queue_us = MicrosBetween(item.enqueued, now);
        absl::Status status;
        try {
          const int64_t timeout_us =
              item.deadline ? MicrosBetween(item.enqueued, *item.deadline) : 0;
          status = absl::DeadlineExceededError(absl::StrCat(
              "request timed out after waiting ", timing.queue_us, " us in the queue of model '",
              options_.name, "' (timeout ", timeout_us, " us)"));
        } catch (...) {
          status = absl::DeadlineExceededError("request timed out in the queue");
        }
        Finish(item, std::move(status), timing);
      }
      rejected.clear();  // outside the lock, like the workers' batches
      lock.Lock();
      continue;
    }
    if (earliest) {
      options_.clock->WaitUntil(timer_cv_, mu_, *earliest);
    } else {
      timer_cv_.Wait(mu_);
    }
  }
}

void Scheduler::Deliver(ScheduledRequest::Callback& done,
                        absl::StatusOr<std::vector<Tensor>> result,
                        const InferenceTiming& timing) {
  try {
    done(std::move(result), timing);
  } catch (...) {
    // The callback may have answered already; calling it again could answer
    // twice. The caller's transport answers a request it never got a
    // response for (an HTTP 500), so logging is all that is left here.
    spdlog::error("model '{}': a request's completion callback threw: {}", options_.name,
                  Describe(std::current_exception()));
  }
}

void Scheduler::Finish(Item& item, absl::StatusOr<std::vector<Tensor>> result,
                       const InferenceTiming& timing) {
  if (!options_.preserve_ordering) {
    Deliver(item.request.done, std::move(result), timing);
    return;
  }
  MutexLock lock(order_mu_);
  try {
    pending_delivery_.emplace(
        item.sequence, [this, done = std::move(item.request.done), result = std::move(result),
                        timing]() mutable { Deliver(done, std::move(result), timing); });
  } catch (...) {
    // Out of memory for the ordering map: answer now, out of order, and let
    // the requests after it go on.
    spdlog::error("model '{}': ordering a result failed: {}", options_.name,
                  Describe(std::current_exception()));
    if (item.sequence == next_to_deliver_) ++next_to_deliver_;
    lock.Unlock();
    if (item.request.done) {
      Deliver(item.request.done, absl::InternalError("ordering the result failed"), timing);
    }
    lock.Lock();
  }
  // Another thread is delivering: it takes this result too, in its turn.
  if (delivering_) return;
  delivering_ = true;
  for (auto it = pending_delivery_.begin();
       it != pending_delivery_.end() && it->first == next_to_deliver_;
       it = pending_delivery_.begin()) {
    std::function<void()> deliver = std::move(it->second);
    pending_delivery_.erase(it);
    ++next_to_deliver_;
    lock.Unlock();
    deliver();  // Deliver() catches what a callback throws
    lock.Lock();
  }
  delivering_ = false;
}

SchedulerStats Scheduler::Stats() const {
  MutexLock lock(mu_);
  SchedulerStats stats = stats_;
  stats.queue_depth = queued_;
  stats.in_flight = in_flight_;
  return stats;
}

}  // namespace ptserve
