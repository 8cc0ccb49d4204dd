// MemoryBudget: a process-wide bound on the bytes of request bodies held in memory at once
// (arriving, queued, being computed on), so that many large or slow requests together cannot
// exhaust the process's memory. A request reserves its body's size when the body starts to
// arrive (the Content-Length up front, or each chunk's size as it is announced) and gives it
// back once its response has been written; a reservation that does not fit is refused at once,
// never waited for, and the server answers 503 with Retry-After.
//
//   auto budget = std::make_shared<MemoryBudget>(DefaultInflightBudget());
//   MemoryBudget::Reservation r(budget.get());
//   if (!r.Grow(content_length)) { /* 503 */ }
//   ...                                  // ~Reservation (or Reset) gives the bytes back
//
// Cost: one compare-and-swap per Grow, one atomic subtraction per Reset.
// Thread-safety: MemoryBudget is thread-safe; a Reservation belongs to one thread at a time.
#ifndef PTSERVE_SERVER_HTTP_MEMORY_BUDGET_H_
#define PTSERVE_SERVER_HTTP_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace ptserve::http {

class MemoryBudget {
 public:
  // `limit_bytes` == 0: nothing fits (every non-empty reservation is refused).
  explicit MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Adds `bytes` if the total stays within the limit; all or nothing. Never blocks.
  bool TryReserve(uint64_t bytes);
  // Gives back bytes reserved earlier (at most what is reserved).
  void Release(uint64_t bytes);

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

  // Bytes held by one request; given back when destroyed or Reset. Movable, not copyable.
  class Reservation {
   public:
    Reservation() = default;  // no budget: Grow always succeeds and holds nothing
    explicit Reservation(MemoryBudget* budget) : budget_(budget) {}
    ~Reservation() { Reset(); }
    Reservation(Reservation&& other) noexcept
        : budget_(other.budget_), bytes_(other.bytes_) {
      other.bytes_ = 0;
    }
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;

    // Reserves `bytes` more; false (and nothing reserved) when the budget cannot take them.
    bool Grow(uint64_t bytes);
    // Gives everything back.
    void Reset();
    uint64_t bytes() const { return bytes_; }

   private:
    MemoryBudget* budget_ = nullptr;  // not owned; null: unlimited
    uint64_t bytes_ = 0;
  };

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

// The memory this process may use: the cgroup's limit (v2 memory.max, v1
// memory.limit_in_bytes; the process's own cgroup under `cgroup_root`, else the root's) when
// one is set, else the physical memory. `cgroup_root` and `proc_self_cgroup` are parameters for
// tests.
uint64_t AvailableMemoryBytes(const std::string& cgroup_root = "/sys/fs/cgroup",
                              const std::string& proc_self_cgroup = "/proc/self/cgroup");

// Default of --max-inflight-bytes: a quarter of AvailableMemoryBytes().
uint64_t DefaultInflightBudget();

}  // namespace ptserve::http

#endif  // PTSERVE_SERVER_HTTP_MEMORY_BUDGET_H_
