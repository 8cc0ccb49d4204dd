#include "repository/repository_poller.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace fs = std::filesystem;

RepositoryPoller::RepositoryPoller(ModelRepository* repository, std::chrono::milliseconds interval,
                                   Clock* clock)
    : repository_(repository), interval_(interval), clock_(clock ? clock : Clock::Real()) {}

RepositoryPoller::~RepositoryPoller() { Stop(); }

std::string RepositoryPoller::Fingerprint(const std::string& model_dir) {
  std::vector<std::string> entries;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           model_dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code stat_ec;
    if (!it->is_regular_file(stat_ec)) continue;
    const auto size = it->file_size(stat_ec);
    const auto mtime = it->last_write_time(stat_ec).time_since_epoch().count();
    entries.push_back(absl::StrCat(fs::relative(it->path(), model_dir, stat_ec).string(), ":",
                                   size, ":", mtime));
  }
  std::sort(entries.begin(), entries.end());
  std::string out;
  for (const std::string& e : entries) absl::StrAppend(&out, e, "\n");
  return out;
}

std::map<std::string, std::string> RepositoryPoller::Scan() const {
  std::map<std::string, std::string> scan;
  for (const std::string& name : repository_->ListModels()) {
    scan[name] = Fingerprint((fs::path(repository_->root()) / name).string());
  }
  return scan;
}

std::vector<std::string> RepositoryPoller::PollOnce() {
  std::vector<std::string> actions;
  const std::map<std::string, std::string> now = Scan();
  for (const auto& [name, print] : now) {
    auto applied = applied_.find(name);
    if (applied != applied_.end() && applied->second == print) continue;
    auto seen = last_seen_.find(name);
    if (seen == last_seen_.end() || seen->second != print) continue;  // still changing
    spdlog::info("poll: model '{}' {}; loading", name,
                 applied == applied_.end() ? "appeared" : "changed");
    (void)repository_->Load(name);  // failures are logged and shown in the index
    applied_[name] = print;
    actions.push_back("load " + name);
  }
  for (auto it = applied_.begin(); it != applied_.end();) {
    if (now.count(it->first) == 0) {
      spdlog::info("poll: model '{}' was removed; unloading", it->first);
      (void)repository_->Unload(it->first);
      actions.push_back("unload " + it->first);
      it = applied_.erase(it);
    } else {
      ++it;
    }
  }
  last_seen_ = now;
  return actions;
}

void RepositoryPoller::Start() {
  applied_ = Scan();
  last_seen_ = applied_;
  thread_ = std::thread([this] { Loop(); });
}

void RepositoryPoller::Loop() {
  MutexLock lock(mu_);
  while (!stop_) {
    const SteadyTime next = SaturatingAddMicros(
        clock_->Now(), std::chrono::duration_cast<std::chrono::microseconds>(interval_).count());
    while (!stop_ && clock_->WaitUntil(cv_, mu_, next)) {
    }
    if (stop_) break;
    lock.Unlock();
    PollOnce();
    lock.Lock();
  }
}

void RepositoryPoller::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ptserve
