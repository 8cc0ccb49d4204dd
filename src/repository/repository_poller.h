// RepositoryPoller: --model-control-mode=poll. Watches the repository
// directory and applies added, changed and removed models: a model whose
// files changed is reloaded (new versions load and warm up while the old ones
// serve; see ModelRepository::Load), a removed one is unloaded.
//
// Half-written files are debounced: a change is applied only once the
// model's files look the same on two consecutive polls (names, sizes and
// modification times), so a copy in progress is never loaded.
//
//   RepositoryPoller poller(repo, std::chrono::seconds(5));
//   poller.Start();    // background thread; or call PollOnce() (tests)
#ifndef PTSERVE_REPOSITORY_REPOSITORY_POLLER_H_
#define PTSERVE_REPOSITORY_REPOSITORY_POLLER_H_

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "repository/model_repository.h"

namespace ptserve {

class RepositoryPoller {
 public:
  // `repository` and `clock` are not owned and must outlive the poller. The
  // interval is waited on `clock` (a FakeClock in tests).
  RepositoryPoller(ModelRepository* repository, std::chrono::milliseconds interval,
                   Clock* clock = Clock::Real());
  ~RepositoryPoller();  // Stop()s.

  // Records the repository as it is now as already applied (call after the
  // initial load), then polls every interval on a background thread.
  void Start();
  void Stop();

  // One scan; returns what it did ("load mlp", "unload old"). Not
  // thread-safe against a concurrent PollOnce (the background thread owns it
  // once Start()ed).
  std::vector<std::string> PollOnce();

  // A model directory's fingerprint: every file's path, size and mtime.
  static std::string Fingerprint(const std::string& model_dir);

 private:
  std::map<std::string, std::string> Scan() const;

  ModelRepository* const repository_;
  const std::chrono::milliseconds interval_;
  Clock* const clock_;
  std::map<std::string, std::string> applied_;    // what the repository serves
  std::map<std::string, std::string> last_seen_;  // the previous scan
  void Loop();                                    // the poller's thread

  Mutex mu_;
  CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_REPOSITORY_POLLER_H_
