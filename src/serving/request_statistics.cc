#include "serving/request_statistics.h"

#include <chrono>
#include <mutex>

namespace ptserve {
namespace {

uint64_t Ns(int64_t us) { return us > 0 ? static_cast<uint64_t>(us) * 1000 : 0; }

}  // namespace

void RequestStatistics::Record(const std::string& model, const std::string& version, bool ok,
                               int64_t total_us, int64_t queue_us, int64_t compute_us,
                               int64_t rows) {
  Counters* c = nullptr;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = counters_.find({model, version});
    if (it != counters_.end()) c = it->second.get();
  }
  if (c == nullptr) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto& slot = counters_[{model, version}];
    if (!slot) slot = std::make_unique<Counters>();
    c = slot.get();  // entries are never removed: the pointer stays valid
  }
  constexpr auto kRelaxed = std::memory_order_relaxed;
  if (ok) {
    c->success.fetch_add(1, kRelaxed);
    c->rows.fetch_add(rows > 0 ? static_cast<uint64_t>(rows) : 0, kRelaxed);
    c->total_ns.fetch_add(Ns(total_us), kRelaxed);
    c->queue_ns.fetch_add(Ns(queue_us), kRelaxed);
    c->compute_ns.fetch_add(Ns(compute_us), kRelaxed);
  } else {
    c->failure.fetch_add(1, kRelaxed);
    c->failure_ns.fetch_add(Ns(total_us), kRelaxed);
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  c->last_ms.store(static_cast<uint64_t>(now.count()), kRelaxed);
}

RequestStatistics::Totals RequestStatistics::Read(const std::string& model,
                                                  const std::string& version) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = counters_.find({model, version});
  if (it == counters_.end()) return {};
  const Counters& c = *it->second;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  return Totals{c.success.load(kRelaxed),    c.failure.load(kRelaxed),  c.rows.load(kRelaxed),
                c.total_ns.load(kRelaxed),   c.queue_ns.load(kRelaxed), c.compute_ns.load(kRelaxed),
                c.failure_ns.load(kRelaxed), c.last_ms.load(kRelaxed)};
}

}  // namespace ptserve
