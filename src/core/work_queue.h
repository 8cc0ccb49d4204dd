// WorkQueue: one background thread that runs posted work in order — for work
// that must not block the thread that asked for it (a model load requested
// over HTTP or gRPC runs for seconds; the network thread answers later).
//
//   WorkQueue queue;                       // starts the thread
//   queue.Post([=] { ...; responder->Send(...); });
//   queue.Stop();                          // runs what is queued, then joins
//
// Work must not throw; an exception that escapes it is dropped (the queue goes
// on) rather than ending the process. Thread-safe. Post() after Stop() runs
// nothing and returns false.
#ifndef PTSERVE_CORE_WORK_QUEUE_H_
#define PTSERVE_CORE_WORK_QUEUE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace ptserve {

class WorkQueue {
 public:
  WorkQueue();
  ~WorkQueue();  // Stop()
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  bool Post(std::function<void()> work);
  // Runs the work already posted, then ends the thread. Idempotent; call it
  // from the owner's destructor before the members the work uses are gone.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> work_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace ptserve

#endif  // PTSERVE_CORE_WORK_QUEUE_H_
