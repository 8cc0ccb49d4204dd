#include "runner.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace ptserve::bench {
namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr int64_t kNever = INT64_MAX;
constexpr uint64_t kWakeKey = UINT64_MAX;
// Waits for a due arrival sleep until this long before it, then poll: kernel wake-ups are late by
// a few to tens of microseconds, which would count as latency in an open loop.
constexpr int64_t kSpinNs = 40'000;
constexpr int64_t kHousekeepingNs = 5'000'000;  // timeouts and reconnect back-off checks
constexpr int64_t kReconnectBackoffNs = 10'000'000;
constexpr int kStableWindows = 3;

// State shared by the workers of one step.
struct StepControl {
  int64_t measure_start_ns = 0;
  int64_t window_ns = kNever;         // measurement window length
  std::atomic<bool> stop{false};
  std::atomic<int64_t> tickets{0};    // requests mode: measured sends left
  bool limited = false;               // requests mode
  int64_t target = 0;
  std::atomic<int64_t> completed{0};  // requests mode: measured completions
  absl::Notification all_done;        // requests mode: completed reached target
};

class Worker {
 public:
  Worker(const Runner::Options& options, const StepConfig& config, int index, int threads,
         StepControl* control)
      : options_(options),
        config_(config),
        control_(control),
        schedule_(options.distribution, std::max(config.rate / threads, 1e-9),
                  options.seed * 1'000'003 + static_cast<uint64_t>(index)),
        series_(100'000'000, 120) {
    if (config.mode == StepConfig::Mode::kClosed) {
      // Spread connections over threads: the first (c % threads) get one more.
      concurrency_ = config.concurrency / threads + (index < config.concurrency % threads ? 1 : 0);
    } else {
      max_connections_ = std::max(1, options.max_connections / threads);
    }
  }

  ~Worker() {
    if (epfd_ >= 0) close(epfd_);
    if (wakefd_ >= 0) close(wakefd_);
  }

  void Start() { thread_ = std::thread([this] { Run(); }); }
  void Wake() {
    uint64_t one = 1;
    (void)!write(wakefd_, &one, sizeof(one));
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Init() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd_ < 0 || wakefd_ < 0) return absl::InternalError("epoll/eventfd creation failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeKey;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
    return absl::OkStatus();
  }

  // Moves out window `k` (creating it empty if nothing was recorded). Later completions that
  // would fall into it go to the next window.
  StepStats TakeWindow(int k) {
    absl::MutexLock lock(&mu_);
    if (static_cast<int>(windows_.size()) <= k) windows_.resize(k + 1);
    min_window_ = std::max(min_window_, k + 1);
    return std::move(windows_[k]);
  }
  TimeSeries TakeSeries() {
    absl::MutexLock lock(&mu_);
    return std::move(series_);
  }
  uint64_t ok_count() const { return ok_count_.load(std::memory_order_relaxed); }
  uint64_t error_count() const { return error_count_.load(std::memory_order_relaxed); }
  double cpu_seconds() const { return cpu_seconds_; }
  int connections_opened() const { return connections_opened_; }

 private:
  enum class State { kDisconnected, kConnecting, kIdle, kBusy };
  enum class Failure { kConnect, kTimeout, kClosed, kBadResponse };

  struct Request {
    int64_t intended_ns = 0;
    bool measured = false;
  };

  struct Slot {
    explicit Slot(const Endpoint* ep) : conn(ep) {}
    Connection conn;
    State state = State::kDisconnected;
    bool has_request = false;
    Request request;
    int64_t written_ns = 0;
    int64_t retry_at_ns = 0;  // kDisconnected: reconnect not before this
    bool want_out = false;
    uint64_t generation = 0;  // bumped per socket; in the epoll key to drop stale events
  };

  uint64_t Key(int idx) const {
    return (slots_[idx]->generation << 32) | static_cast<uint64_t>(idx);
  }
  void MarkDisconnected(Slot& s, int64_t retry_at) {
    if (s.state != State::kDisconnected) ++disconnected_;
    s.conn.Close();  // also removes the fd from epoll
    s.state = State::kDisconnected;
    s.retry_at_ns = retry_at;
  }

  bool closed_loop() const { return config_.mode == StepConfig::Mode::kClosed; }

  void Run() {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    const int64_t start = NowNs();
    const double cpu_start = ThreadCpuSeconds();
    if (closed_loop()) {
      absl::MutexLock lock(&mu_);
      for (int i = 0; i < concurrency_; ++i) AddSlot();
      for (size_t i = 0; i < slots_.size(); ++i) StartClosedRequest(static_cast<int>(i), start);
    } else {
      next_arrival_ns_ = start + schedule_.NextGapNs();
    }
    Loop();
    for (auto& s : slots_) s->conn.Close();
    cpu_seconds_ = ThreadCpuSeconds() - cpu_start;
  }

  void Loop() {
    epoll_event events[256];
    int64_t next_housekeeping = NowNs() + kHousekeepingNs;
    while (!control_->stop.load(std::memory_order_relaxed)) {
      int64_t now = NowNs();
      if (!closed_loop()) {
        absl::MutexLock lock(&mu_);
        while (next_arrival_ns_ <= now && !arrivals_done_) {
          Arrive(next_arrival_ns_, now);
          next_arrival_ns_ += schedule_.NextGapNs();
        }
      }
      if (now >= next_housekeeping) {
        absl::MutexLock lock(&mu_);
        Housekeeping(now);
        next_housekeeping = now + kHousekeepingNs;
      }
      int64_t wake_at = next_housekeeping;
      if (!closed_loop() && !arrivals_done_) wake_at = std::min(wake_at, next_arrival_ns_);
      const int64_t wait_ns = wake_at - kSpinNs - now;
      int n;
      if (wait_ns <= 0) {
        n = epoll_wait(epfd_, events, 256, 0);
      } else {
        timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
        n = epoll_pwait2(epfd_, events, 256, &ts, nullptr);
      }
      if (n <= 0) continue;
      now = NowNs();
      absl::MutexLock lock(&mu_);
      for (int i = 0; i < n; ++i) HandleEvent(events[i], now);
    }
  }

  void HandleEvent(const epoll_event& ev, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ev.data.u64 == kWakeKey) {
      uint64_t v;
      (void)!read(wakefd_, &v, sizeof(v));
      return;
    }
    const int idx = static_cast<int>(ev.data.u64 & 0xffffffffu);
    Slot& s = *slots_[idx];
    if ((ev.data.u64 >> 32) != s.generation) return;  // for a socket closed earlier in this batch
    if (s.state == State::kConnecting) {
      if (!(ev.events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      if (s.conn.FinishConnect() == Connection::Io::kDone) {
        OnConnected(idx, now);
      } else {
        OnConnectFailed(idx, now);
      }
      return;
    }
    if (s.state == State::kBusy) {
      if ((ev.events & EPOLLOUT) && s.conn.sending()) {
        Connection::Io io = s.conn.ContinueSend();
        if (io == Connection::Io::kDone) {
          s.written_ns = NowNs();
          SetWantOut(idx, false);
        } else if (io != Connection::Io::kAgain) {
          Fail(idx, Failure::kClosed, now);
          return;
        }
      }
      if (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        switch (s.conn.Receive()) {
          case Connection::Io::kDone:
            OnResponse(idx, now);
            break;
          case Connection::Io::kAgain:
            break;
          case Connection::Io::kClosed:
            Fail(idx, Failure::kClosed, now);
            break;
          case Connection::Io::kError:
            Fail(idx, Failure::kBadResponse, now);
            break;
        }
      }
      return;
    }
    if (s.state == State::kIdle && (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
      // The server closed an idle keep-alive connection (or sent junk): reconnect quietly.
      Reconnect(idx, now);
    }
  }

  int AddSlot() {
    ++disconnected_;
    slots_.push_back(std::make_unique<Slot>(&options_.endpoint));
    slots_.back()->conn.set_scan_body_for_timing(options_.scan_body_for_timing);
    return static_cast<int>(slots_.size()) - 1;
  }

  // Starts a connect on slot `idx`; completion arrives via OnConnected/OnConnectFailed.
  void Connect(int idx, int64_t now) {
    Slot& s = *slots_[idx];
    ++connections_opened_;
    ++s.generation;
    if (s.state == State::kDisconnected) --disconnected_;
    Connection::Io io = s.conn.Connect();
    if (io == Connection::Io::kError) {
      s.state = State::kConnecting;
      if (!closed_loop()) ++connecting_;
      OnConnectFailed(idx, now);
      return;
    }
    epoll_event ev{};
    ev.events = io == Connection::Io::kDone ? EPOLLIN : (EPOLLIN | EPOLLOUT);
    ev.data.u64 = Key(idx);
    epoll_ctl(epfd_, EPOLL_CTL_ADD, s.conn.fd(), &ev);
    s.want_out = io != Connection::Io::kDone;
    s.state = State::kConnecting;
    if (!closed_loop()) ++connecting_;
    if (io == Connection::Io::kDone) OnConnected(idx, now);
  }

  void OnConnected(int idx, int64_t now) {
    Slot& s = *slots_[idx];
    if (!closed_loop()) --connecting_;
    SetWantOut(idx, false);
    s.state = State::kIdle;
    if (s.has_request) {
      SendOn(idx);
    } else {
      OnIdle(idx, now);
    }
  }

  void OnConnectFailed(int idx, int64_t now) {
    Slot& s = *slots_[idx];
    if (!closed_loop()) --connecting_;
    MarkDisconnected(s, now + kReconnectBackoffNs);
    if (s.has_request) {
      s.has_request = false;
      Complete(s.request, nullptr, Failure::kConnect, now);
    } else if (!pending_.empty()) {
      Request r = pending_.front();
      pending_.pop_front();
      Complete(r, nullptr, Failure::kConnect, now);
    }
  }

  void SetWantOut(int idx, bool want) {
    Slot& s = *slots_[idx];
    if (s.want_out == want || s.conn.fd() < 0) return;
    epoll_event ev{};
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.u64 = Key(idx);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, s.conn.fd(), &ev);
    s.want_out = want;
  }

  // Sends the slot's request on its (connected, idle) connection.
  void SendOn(int idx) {
    Slot& s = *slots_[idx];
    s.state = State::kBusy;
    Connection::Io io = s.conn.Send(&options_.request);
    if (io == Connection::Io::kDone) {
      s.written_ns = NowNs();
    } else if (io == Connection::Io::kAgain) {
      SetWantOut(idx, true);
    } else {
      Fail(idx, Failure::kClosed, NowNs());
    }
  }

  // Claims a measurement ticket if needed; false when the request budget is spent.
  bool MakeRequest(int64_t intended, Request* r) {
    r->intended_ns = intended;
    r->measured = intended >= control_->measure_start_ns;
    if (r->measured && control_->limited) {
      if (control_->tickets.fetch_sub(1, std::memory_order_relaxed) <= 0) return false;
    }
    return true;
  }

  void StartClosedRequest(int idx, int64_t /*now*/) {
    Slot& s = *slots_[idx];
    if (!MakeRequest(NowNs(), &s.request)) return;  // budget spent: stay idle
    s.has_request = true;
    if (s.state == State::kIdle) {
      SendOn(idx);
    } else if (s.state == State::kDisconnected) {
      Connect(idx, s.request.intended_ns);
    }
  }

  // Open loop: a request is due at `intended`.
  void Arrive(int64_t intended, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Request r;
    if (!MakeRequest(intended, &r)) {
      arrivals_done_ = true;
      return;
    }
    while (!idle_.empty()) {
      int idx = idle_.back();
      idle_.pop_back();
      Slot& s = *slots_[idx];
      if (s.state != State::kIdle || s.has_request) continue;
      s.request = r;
      s.has_request = true;
      SendOn(idx);
      return;
    }
    pending_.push_back(r);
    if (static_cast<int64_t>(pending_.size()) > connecting_) {
      // Reuse a disconnected slot that is past its back-off, or open a new one.
      for (size_t i = 0; disconnected_ > 0 && i < slots_.size(); ++i) {
        Slot& s = *slots_[i];
        if (s.state == State::kDisconnected && s.retry_at_ns <= now) {
          Connect(static_cast<int>(i), now);
          return;
        }
      }
      if (static_cast<int>(slots_.size()) < max_connections_) Connect(AddSlot(), now);
    }
  }

  void OnIdle(int idx, int64_t now) {
    Slot& s = *slots_[idx];
    s.state = State::kIdle;
    if (closed_loop()) {
      if (!control_->stop.load(std::memory_order_relaxed)) StartClosedRequest(idx, now);
      return;
    }
    if (!pending_.empty()) {
      s.request = pending_.front();
      pending_.pop_front();
      s.has_request = true;
      SendOn(idx);
      return;
    }
    idle_.push_back(idx);
  }

  void OnResponse(int idx, int64_t now) {
    Slot& s = *slots_[idx];
    const ResponseInfo& resp = s.conn.response();
    const bool keep_alive = resp.keep_alive;
    s.has_request = false;
    Complete(s.request, &s, std::nullopt, now);
    s.conn.ConsumeResponse();
    if (keep_alive) {
      OnIdle(idx, now);
    } else {
      Reconnect(idx, now);
    }
  }

  void Fail(int idx, Failure why, int64_t now) {
    Slot& s = *slots_[idx];
    if (s.has_request) {
      s.has_request = false;
      Complete(s.request, nullptr, why, now);
    }
    Reconnect(idx, now);
  }

  void Reconnect(int idx, int64_t now) {
    Slot& s = *slots_[idx];
    MarkDisconnected(s, now);
    if (closed_loop()) {
      StartClosedRequest(idx, now);
    } else if (static_cast<int64_t>(pending_.size()) > connecting_) {
      Connect(idx, now);
    }
  }

  void Housekeeping(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t timeout = options_.timeout_ms * 1'000'000;
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = *slots_[i];
      const int idx = static_cast<int>(i);
      if (s.has_request && (s.state == State::kBusy || s.state == State::kConnecting) &&
          now - s.request.intended_ns > timeout) {
        if (s.state == State::kConnecting && !closed_loop()) --connecting_;
        s.has_request = false;
        Complete(s.request, nullptr, Failure::kTimeout, now);
        MarkDisconnected(s, now);
        if (closed_loop()) StartClosedRequest(idx, now);
      } else if (closed_loop() && s.state == State::kDisconnected && s.retry_at_ns <= now &&
                 !control_->stop.load(std::memory_order_relaxed)) {
        StartClosedRequest(idx, now);
      }
    }
    while (!pending_.empty() && now - pending_.front().intended_ns > timeout) {
      Complete(pending_.front(), nullptr, Failure::kTimeout, now);
      pending_.pop_front();
    }
    if (!closed_loop() && static_cast<int64_t>(pending_.size()) > connecting_) {
      for (size_t i = 0; disconnected_ > 0 && i < slots_.size(); ++i) {
        if (slots_[i]->state == State::kDisconnected && slots_[i]->retry_at_ns <= now) {
          Connect(static_cast<int>(i), now);
          if (static_cast<int64_t>(pending_.size()) <= connecting_) break;
        }
      }
    }
  }

  StepStats& WindowFor(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int k = static_cast<int>(std::min<int64_t>((now - control_->measure_start_ns) /
                                                   control_->window_ns, 1 << 20));
    k = std::max(k, min_window_);
    if (static_cast<int>(windows_.size()) <= k) windows_.resize(k + 1);
    return windows_[k];
  }

  // Records the outcome of request `r`: a response on `slot`, or `failure`.
  void Complete(const Request& r, const Slot* slot, std::optional<Failure> failure, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    bool ok = false;
    if (!r.measured) return;
    StepStats& w = WindowFor(now);
    if (failure) {
      switch (*failure) {
        case Failure::kConnect: ++w.errors.connect; break;
        case Failure::kTimeout: ++w.errors.timeout; break;
        case Failure::kClosed: ++w.errors.closed; break;
        case Failure::kBadResponse: ++w.errors.bad_response; break;
      }
    } else {
      const ResponseInfo& resp = slot->conn.response();
      if (resp.status >= 200 && resp.status < 300) {
        ok = true;
        const int64_t latency = now - r.intended_ns;
        ++w.ok;
        w.latency.Record(latency);
        series_.Record(now - control_->measure_start_ns, latency);
        w.send_delay_sum_ns += static_cast<double>(slot->written_ns - r.intended_ns);
        ++w.send_delay_count;
        w.send_delay.Record(slot->written_ns - r.intended_ns);
        if (resp.queue_time_us >= 0) {
          w.queue_us_sum += static_cast<double>(resp.queue_time_us);
          ++w.queue_count;
        }
        if (resp.compute_time_us >= 0) {
          w.compute_us_sum += static_cast<double>(resp.compute_time_us);
          ++w.compute_count;
        }
        if (resp.batch_size >= 0) {
          w.batch_size_sum += static_cast<double>(resp.batch_size);
          ++w.batch_count;
        }
      } else {
        ++w.errors.http_status[resp.status];
      }
    }
    if (ok) {
      ok_count_.store(ok_count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    } else {
      error_count_.store(error_count_.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    }
    if (control_->limited &&
        control_->completed.fetch_add(1, std::memory_order_acq_rel) + 1 == control_->target) {
      control_->all_done.Notify();
    }
  }

  const Runner::Options& options_;
  const StepConfig config_;
  StepControl* control_;
  int concurrency_ = 0;
  int max_connections_ = 0;
  int epfd_ = -1;
  int wakefd_ = -1;
  std::thread thread_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<int> idle_;        // open loop: idle connected slots (may hold stale entries)
  std::deque<Request> pending_;  // open loop: due requests waiting for a connection
  int64_t connecting_ = 0;       // open loop: slots in kConnecting
  int64_t disconnected_ = 0;     // slots in kDisconnected
  int64_t next_arrival_ns_ = 0;
  bool arrivals_done_ = false;
  ArrivalSchedule schedule_;
  std::atomic<uint64_t> ok_count_{0};
  std::atomic<uint64_t> error_count_{0};
  double cpu_seconds_ = 0;
  int connections_opened_ = 0;

  absl::Mutex mu_;  // held by the worker while it handles a batch of events
  std::vector<StepStats> windows_ ABSL_GUARDED_BY(mu_);
  int min_window_ ABSL_GUARDED_BY(mu_) = 0;
  TimeSeries series_ ABSL_GUARDED_BY(mu_);
};

double LatencyMetric(const StepStats& s, double percentile) {
  return percentile < 0 ? s.latency.Mean() : s.latency.ValueAtPercentile(percentile);
}

bool WithinPercent(const std::vector<double>& v, double pct) {
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  if (mean == 0) return true;
  for (double x : v) {
    if (std::abs(x - mean) > mean * pct / 100.0) return false;
  }
  return true;
}

}  // namespace

uint64_t ErrorCounts::Total() const {
  uint64_t t = connect + timeout + closed + bad_response;
  for (const auto& [code, n] : http_status) t += n;
  return t;
}

void ErrorCounts::Merge(const ErrorCounts& o) {
  connect += o.connect;
  timeout += o.timeout;
  closed += o.closed;
  bad_response += o.bad_response;
  for (const auto& [code, n] : o.http_status) http_status[code] += n;
}

double StepStats::Throughput() const {
  return duration_ns <= 0 ? 0.0 : static_cast<double>(ok) * 1e9 / static_cast<double>(duration_ns);
}

void StepStats::Merge(const StepStats& o) {
  latency.Merge(o.latency);
  ok += o.ok;
  errors.Merge(o.errors);
  send_delay_sum_ns += o.send_delay_sum_ns;
  send_delay_count += o.send_delay_count;
  send_delay.Merge(o.send_delay);
  queue_us_sum += o.queue_us_sum;
  compute_us_sum += o.compute_us_sum;
  batch_size_sum += o.batch_size_sum;
  queue_count += o.queue_count;
  compute_count += o.compute_count;
  batch_count += o.batch_count;
}

absl::StatusOr<std::unique_ptr<Runner>> Runner::Create(Options options) {
  if (options.threads < 1) return absl::InvalidArgumentError("--threads must be >= 1");
  if (options.request.empty()) return absl::InvalidArgumentError("no request to send");
  if (options.measurement_interval_ms <= 0 && options.requests <= 0) {
    return absl::InvalidArgumentError("--measurement-interval must be > 0");
  }
  options.max_trials = std::max(options.max_trials, 1);
  return std::unique_ptr<Runner>(new Runner(std::move(options)));
}

absl::StatusOr<StepResult> Runner::RunStep(const StepConfig& config) {
  if (config.mode == StepConfig::Mode::kClosed && config.concurrency < 1) {
    return absl::InvalidArgumentError("concurrency must be >= 1");
  }
  if (config.mode == StepConfig::Mode::kOpen && !(config.rate > 0)) {
    return absl::InvalidArgumentError("request rate must be > 0");
  }
  int threads = options_.threads;
  if (config.mode == StepConfig::Mode::kClosed) threads = std::min(threads, config.concurrency);

  StepControl control;
  const int64_t start = NowNs();
  control.measure_start_ns = start + options_.warmup_ms * 1'000'000;
  if (options_.requests > 0) {
    control.limited = true;
    control.target = options_.requests;
    control.tickets.store(options_.requests);
  } else {
    control.window_ns = options_.measurement_interval_ms * 1'000'000;
  }
  Runner::Options opts = options_;
  opts.seed = options_.seed + step_index_++ * 7919;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<Worker>(opts, config, i, threads, &control));
    if (auto s = workers.back()->Init(); !s.ok()) return s;
  }
  for (auto& w : workers) w->Start();

  const std::string label = config.mode == StepConfig::Mode::kClosed
                                ? absl::StrCat("concurrency ", config.concurrency)
                                : absl::StrFormat("rate %.0f/s", config.rate);
  uint64_t last_ok = 0;
  int64_t last_t = start;
  auto report_progress = [&](absl::string_view phase) {
    if (!options_.progress) return;
    uint64_t ok = 0, err = 0;
    for (auto& w : workers) {
      ok += w->ok_count();
      err += w->error_count();
    }
    const int64_t now = NowNs();
    const double rate = static_cast<double>(ok - last_ok) * 1e9 / std::max<int64_t>(now - last_t, 1);
    last_ok = ok;
    last_t = now;
    options_.progress(absl::StrFormat("%s | %s %.1fs | %.0f ok/s | ok %d | errors %d", label,
                                      phase, (now - start) * 1e-9, rate, ok, err));
  };
  auto sleep_until = [&](int64_t deadline, absl::string_view phase) {
    for (;;) {
      const int64_t now = NowNs();
      if (now >= deadline) return;
      const int64_t step = options_.progress ? std::min<int64_t>(deadline - now, 1'000'000'000)
                                             : deadline - now;
      absl::SleepFor(absl::Nanoseconds(step));
      if (NowNs() < deadline) report_progress(phase);
    }
  };

  StepResult result;
  result.config = config;
  std::vector<StepStats> windows;
  sleep_until(control.measure_start_ns, "warm-up");
  if (control.limited) {
    while (!control.all_done.WaitForNotificationWithTimeout(absl::Seconds(1))) {
      report_progress("measuring");
    }
    StepStats s;
    for (auto& w : workers) s.Merge(w->TakeWindow(0));
    s.duration_ns = NowNs() - control.measure_start_ns;
    windows.push_back(std::move(s));
    result.windows = 1;
  } else {
    for (int k = 0; k < options_.max_trials; ++k) {
      sleep_until(control.measure_start_ns + (k + 1) * control.window_ns, "measuring");
      StepStats s;
      for (auto& w : workers) s.Merge(w->TakeWindow(k));
      s.duration_ns = control.window_ns;
      windows.push_back(std::move(s));
      result.windows = k + 1;
      if (static_cast<int>(windows.size()) >= kStableWindows) {
        std::vector<double> tput, lat;
        for (size_t i = windows.size() - kStableWindows; i < windows.size(); ++i) {
          tput.push_back(windows[i].Throughput());
          lat.push_back(LatencyMetric(windows[i], options_.percentile));
        }
        result.stable = WithinPercent(tput, options_.stability_percentage) &&
                        WithinPercent(lat, options_.stability_percentage);
        if (result.stable) break;
      } else {
        result.stable = options_.max_trials < kStableWindows;  // too few windows to judge
      }
    }
  }
  control.stop.store(true);
  for (auto& w : workers) w->Wake();
  for (auto& w : workers) w->Join();

  const size_t first = windows.size() > kStableWindows ? windows.size() - kStableWindows : 0;
  for (size_t i = first; i < windows.size(); ++i) {
    result.stats.Merge(windows[i]);
    result.stats.duration_ns += windows[i].duration_ns;
  }
  const double wall = std::max<double>((NowNs() - start) * 1e-9, 1e-9);
  double cpu = 0;
  bool first_series = true;
  for (auto& w : workers) {
    cpu += w->cpu_seconds();
    result.connections += w->connections_opened();
    if (first_series) {
      result.series = w->TakeSeries();
      first_series = false;
    } else {
      result.series.Merge(w->TakeSeries());
    }
  }
  result.client_cpu = cpu / wall;
  return result;
}

}  // namespace ptserve::bench
