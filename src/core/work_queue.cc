#include "core/work_queue.h"

#include <utility>

namespace ptserve {

WorkQueue::WorkQueue() : thread_([this] { Run(); }) {}

WorkQueue::~WorkQueue() { Stop(); }

bool WorkQueue::Post(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return false;
    work_.push_back(std::move(work));
  }
  cv_.notify_one();
  return true;
}

void WorkQueue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void WorkQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !work_.empty(); });
    if (work_.empty()) return;  // stopped, and nothing left to run
    std::function<void()> work = std::move(work_.front());
    work_.pop_front();
    lock.unlock();
    try {
      work();
    } catch (...) {
      // Dropped: one failed piece of work must not end the process (see the header).
    }
    work = nullptr;  // whatever it captured is released outside the lock
    lock.lock();
  }
}

}  // namespace ptserve
