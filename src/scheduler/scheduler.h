// Scheduler: the queue in front of a model version's instances. It merges
// independent requests into batches (dynamic batching, Triton's semantics),
// runs them on N instance workers, and splits the outputs back.
//
// Threads: one worker thread per instance. Workers pull from one bounded,
// priority-ordered queue and form their own batches, so a request goes from
// the network thread to a worker with one hand-off (no separate batcher
// thread, no extra context switch). While every instance is busy, requests
// accumulate and the next free worker takes a larger batch. One small timer
// thread rejects queued requests at their deadline, even while all workers
// are busy.
//
// Inline runs (SchedulerOptions::inline_when_idle): when the model is idle
// and fast, Enqueue runs the request on the caller's thread instead of
// handing it to a worker: no wake-up, and the inputs are still in the
// caller's caches. "Idle": nothing queued or running, the CPU slots free, and
// the last few arrivals found it so too (traffic one request at a time).
// "Fast": its recent executions took at most kMaxInlineComputeUs (the caller
// is a network thread: it serves nothing else meanwhile). The request must be
// one an idle worker would run alone at once (no batching delay to wait
// out). Every kInlineProbeInterval-th such request still goes to a worker:
// while it runs, the caller can read requests that queued up behind its
// inline runs, and those end the idle streak. Under load every request goes
// through the queue, so batching is unchanged.
//
//   auto scheduler = Scheduler::Create(options, std::move(instances)).value();
//   absl::StatusOr<uint64_t> ticket = scheduler->Enqueue(std::move(request));
//   if (!ticket.ok()) ...  // UNAVAILABLE: queue full, answer 503 at once
//   scheduler->Cancel(*ticket);  // the client went away
//
// Failures stay local: an exception thrown by an instance (or while a batch
// is assembled or split) fails that batch's requests with an Internal error
// and the worker goes on serving; an exception thrown by a `done` callback is
// logged and never reaches std::terminate. Deadlines saturate: a huge
// timeout means "no deadline", never a wrapped-around one.
//
// Thread-safe. Cancel() never blocks on inference; Enqueue() only for its
// own request's inline run.
#ifndef PTSERVE_SCHEDULER_SCHEDULER_H_
#define PTSERVE_SCHEDULER_SCHEDULER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/model_instance.h"
#include "core/clock.h"
#include "core/inference.h"
#include "core/mutex.h"
#include "metrics/inference_metrics.h"
#include "scheduler/batch_assembly.h"
#include "scheduler/cpu_budget.h"

namespace ptserve {

struct SchedulerOptions {
  std::string name = "model";  // for messages
  // 0: the model has no batch dimension; each request runs alone.
  int64_t max_batch_size = 0;
  // Merge requests into batches (config `dynamic_batching { }` present).
  bool dynamic_batching = false;
  // Batch sizes to aim for; empty = max_batch_size. When the queued rows
  // make one, the largest such batch runs at once, and no larger one forms
  // (however many rows are queued; without such a prefix, as before).
  std::vector<int64_t> preferred_batch_sizes;
  // How long the oldest request may wait for a batch to fill.
  int64_t max_queue_delay_us = 0;
  // Answer requests in the order they arrived, even across instances.
  bool preserve_ordering = false;
  // Requests waiting (not yet running) beyond which Enqueue fails.
  size_t max_queue_size = 1024;
  // Deadline for a request still queued; 0 = none.
  int64_t default_timeout_us = 0;
  bool allow_timeout_override = true;
  // Triton's timeout_action DELAY: a request past its deadline is not
  // rejected but runs after every request still within its deadline.
  bool timeout_delays = false;
  // Priority levels 1..priority_levels (1 is highest); 0 = one level.
  int priority_levels = 0;
  int default_priority_level = 0;
  // Per input (model order): padding for variable-length inputs.
  std::vector<InputPadding> padding;
  // Output indices whose dimension 1 is trimmed back after padding.
  std::vector<int> trim_outputs;
  // Bounds on each batch's input tensors (padding included; see
  // BatchLimits): a request that would push a batch over them waits for
  // another batch; one that cannot fit any padded batch is rejected
  // (InvalidArgument) by Enqueue. The names are used in messages.
  int64_t max_batch_elements = int64_t{1} << 28;
  int64_t max_batch_bytes = int64_t{1} << 31;
  std::vector<std::string> input_names;
  // Shared CPU slots; each execution holds `threads_per_execution` of them.
  // Null: no limit.
  std::shared_ptr<CpuBudget> cpu_budget;
  int threads_per_execution = 1;
  // Executions and rows are counted here (not owned; may be null).
  metrics::ModelMetrics* metrics = nullptr;
  // Run a request on Enqueue's thread when the model is idle and fast (see
  // above).
  bool inline_when_idle = false;
  // How long an idle worker polls for new work before it sleeps on the
  // condition variable (0: it sleeps at once). A request that arrives within
  // the spin skips the futex wake-up; the spin costs a CPU while it lasts.
  int64_t worker_spin_us = 0;
  // Time: Now() for queue times and deadlines, WaitUntil() for the workers'
  // batch-delay waits and the timer's deadline waits (a FakeClock in tests).
  // Not owned; outlives the scheduler.
  Clock* clock = Clock::Real();
};

struct ScheduledRequest {
  std::vector<Tensor> inputs;  // model order; dim 0 = rows when batching
  std::optional<int64_t> timeout_us;
  std::optional<int> priority;
  using Callback =
      std::function<void(absl::StatusOr<std::vector<Tensor>>, const InferenceTiming&)>;
  // Called exactly once: outputs (model order) and timing, or an error.
  Callback done;
};

// Successful executions of one batch size (rows), for Triton's batch_stats.
struct BatchExecutionStats {
  uint64_t count = 0;
  uint64_t compute_ns = 0;  // summed execution time
};

struct SchedulerStats {
  uint64_t executions = 0;      // batches run
  uint64_t inferences = 0;      // rows run
  uint64_t requests_ok = 0;     // requests answered with outputs
  uint64_t requests_failed = 0; // model errors
  uint64_t rejected = 0;        // queue full
  uint64_t timed_out = 0;       // deadline passed while queued
  uint64_t cancelled = 0;       // client went away while queued
  size_t queue_depth = 0;
  size_t in_flight = 0;         // requests in batches running now
  std::map<int64_t, BatchExecutionStats> batches;  // successful executions by rows
};

class Scheduler {
 public:
  // Inline runs: the longest recent execution time, the idle arrivals in a
  // row needed, and how often an eligible request still goes to a worker.
  static constexpr int64_t kMaxInlineComputeUs = 1000;
  static constexpr int kInlineIdleStreak = 4;
  static constexpr uint64_t kInlineProbeInterval = 16;

  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(
      SchedulerOptions options, std::vector<std::unique_ptr<ModelInstance>> instances);
  ~Scheduler();  // Drain()s.

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues the request; never blocks on other requests' inference. UNAVAILABLE
  // when the queue is full or the scheduler is draining; INVALID_ARGUMENT for
  // a bad priority or a request that no padded batch could hold
  // (CheckItemFootprint). On OK the request's `done` runs exactly once: later,
  // on a worker or timer thread, or, for an inline run, on this thread before
  // Enqueue returns.
  // The caller keeps this scheduler alive until Enqueue returns (the request
  // may finish, and drop its owner's last reference, before it does).
  absl::StatusOr<uint64_t> Enqueue(ScheduledRequest request);

  // Removes a still-queued request (answered CANCELLED). False when it has
  // already started or finished.
  bool Cancel(uint64_t ticket);

  // Stops accepting, runs everything already queued, joins the threads.
  // Idempotent. Must not run on one of this scheduler's own threads (it
  // would join itself): whoever may drop its owner from a `done` callback
  // checks OnSchedulerThread() first.
  void Drain();

  // True on this scheduler's worker and timer threads, where `done`
  // callbacks run.
  bool OnSchedulerThread() const;

  SchedulerStats Stats() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Item {
    uint64_t ticket;
    uint64_t sequence;
    ScheduledRequest request;
    int64_t rows;
    SteadyTime enqueued;
    std::optional<SteadyTime> deadline;
  };

  Scheduler(SchedulerOptions options, std::vector<std::unique_ptr<ModelInstance>> instances);
  // Starts the worker and timer threads; on failure (std::system_error: no
  // more threads) stops the ones started and returns an error.
  absl::Status Start();
  void WorkerLoop(size_t index);
  // Whether a lone request with `rows` rows would be taken at once by an idle
  // worker (no batching delay to wait out).
  bool RunsAloneAtOnce(int64_t rows) const;
  // Runs `item` on this thread on instance `index` (claimed by Enqueue).
  void RunInline(size_t index, Item item, CpuBudget::Lease lease);
  // Polls for up to worker_spin_us for new work with mu_ released; true when
  // some arrived (or the scheduler is stopping).
  bool SpinForWork() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TimerLoop();
  // Picks the next batch, or returns the time to look again.
  bool TakeBatch(std::vector<Item>* batch, std::optional<SteadyTime>* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs a batch; takes the CPU slots first unless `lease` already holds them.
  void RunBatch(ModelInstance* instance, std::vector<Item>& batch,
                CpuBudget::Lease* lease = nullptr);
  // Gathers, executes and splits a batch; never throws (an exception becomes
  // an Internal error for the whole batch).
  absl::StatusOr<std::vector<std::vector<Tensor>>> ExecuteGuarded(
      ModelInstance* instance, const std::vector<const ItemInputs*>& items, int64_t rows);
  // Delivers a result, in arrival order when preserve_ordering. Never
  // throws: an exception from the request's callback is logged.
  void Finish(Item& item, absl::StatusOr<std::vector<Tensor>> result, const InferenceTiming& t);
  void Deliver(ScheduledRequest::Callback& done, absl::StatusOr<std::vector<Tensor>> result,
               const InferenceTiming& timing);
  size_t LevelOf(const ScheduledRequest& r) const;
  bool IsPreferred(int64_t rows) const;

  const SchedulerOptions options_;
  const BatchLimits batch_limits_;
  std::vector<std::unique_ptr<ModelInstance>> instances_;

  mutable Mutex mu_;
  CondVar work_cv_;   // workers: new items or stop
  CondVar timer_cv_;  // timer: earlier deadline or stop
  // queues_[0] is the highest priority; the last one holds delayed items.
  std::vector<std::deque<Item>> queues_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool timer_stop_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<SteadyTime> timer_wake_ ABSL_GUARDED_BY(mu_);
  SchedulerStats stats_ ABSL_GUARDED_BY(mu_);
  // Per instance: running a batch now (on its worker or inline).
  std::vector<bool> instance_busy_ ABSL_GUARDED_BY(mu_);
  size_t inline_running_ ABSL_GUARDED_BY(mu_) = 0;
  // For inline runs: arrivals in a row that found the model idle (nothing
  // queued or running), inline-eligible arrivals so far, and a moving average
  // of execution times (-1 until the first execution).
  int idle_arrivals_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t eligible_arrivals_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t recent_compute_us_ ABSL_GUARDED_BY(mu_) = -1;
  // Counts Enqueue()s: what a spinning worker watches without the lock.
  std::atomic<uint64_t> arrivals_{0};
  // Identifies this scheduler to the threads its inline runs bound (see
  // RunInline).
  const uint64_t id_;

  // preserve_ordering: results waiting for earlier ones. One thread at a time delivers them,
  // in order, with order_mu_ released around each callback (a slow callback never holds up the
  // workers that finish meanwhile: they only add their results).
  Mutex order_mu_;
  uint64_t next_to_deliver_ ABSL_GUARDED_BY(order_mu_) = 0;
  std::map<uint64_t, std::function<void()>> pending_delivery_ ABSL_GUARDED_BY(order_mu_);
  bool delivering_ ABSL_GUARDED_BY(order_mu_) = false;

  std::vector<std::thread> workers_;
  std::thread timer_;
  std::vector<std::thread::id> thread_ids_;  // set by Start(), then read-only
  std::once_flag drain_once_;
};

}  // namespace ptserve

#endif  // PTSERVE_SCHEDULER_SCHEDULER_H_
