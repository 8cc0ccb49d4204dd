// CpuBudget: the CPUs the process may use, shared by every model's
// instances. An execution holds as many slots as it has intra-op threads
// while it runs, so several models (or instances) never run more compute
// threads at once than the container has CPUs. First come, first served.
//
//   auto budget = std::make_shared<CpuBudget>(AvailableCpus());
//   { CpuBudget::Lease lease(*budget, 2); RunModel(); }
//
// Thread-safe. Acquire blocks (worker threads only, never network threads).
#ifndef PTSERVE_SCHEDULER_CPU_BUDGET_H_
#define PTSERVE_SCHEDULER_CPU_BUDGET_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace ptserve {

class CpuBudget {
 public:
  explicit CpuBudget(int slots) : capacity_(slots < 1 ? 1 : slots), free_(capacity_) {}

  int capacity() const { return capacity_; }

  // Blocks until `n` slots (clamped to 1..capacity) are free and it is this
  // caller's turn; returns the number taken.
  int Acquire(int n);
  // Takes `n` slots (clamped) only if they are free now and nobody waits;
  // returns the number taken, 0 if none. Never blocks on other holders.
  int TryAcquire(int n);
  void Release(int n);

  class Lease {
   public:
    // A null budget: no limit, nothing held.
    Lease(CpuBudget* budget, int n) : budget_(budget), n_(budget ? budget->Acquire(n) : 0) {}
    // Takes the slots only if they are free now: owns() says whether it did.
    Lease(CpuBudget* budget, int n, std::try_to_lock_t)
        : budget_(budget), n_(budget ? budget->TryAcquire(n) : 0), owns_(!budget || n_ > 0) {
      if (n_ == 0) budget_ = nullptr;
    }
    ~Lease() {
      if (budget_) budget_->Release(n_);
    }
    Lease(Lease&& other) noexcept : budget_(other.budget_), n_(other.n_), owns_(other.owns_) {
      other.budget_ = nullptr;
      other.n_ = 0;
      other.owns_ = false;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    // The execution may run: the slots are held, or there is no budget.
    bool owns() const { return owns_; }

   private:
    CpuBudget* budget_;
    int n_;
    bool owns_ = true;
  };

 private:
  const int capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  int free_;
  uint64_t next_ticket_ = 0;   // handed to each waiter
  uint64_t now_serving_ = 0;   // the ticket allowed to take slots next
};

}  // namespace ptserve

#endif  // PTSERVE_SCHEDULER_CPU_BUDGET_H_
