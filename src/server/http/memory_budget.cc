#include "server/http/memory_budget.h"

#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace ptserve::http {

bool MemoryBudget::TryReserve(uint64_t bytes) {
  if (bytes == 0) return true;
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || used > limit_ - bytes) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

void MemoryBudget::Release(uint64_t bytes) {
  if (bytes != 0) used_.fetch_sub(bytes, std::memory_order_relaxed);
}

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Reset();
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.bytes_ = 0;
  }
  return *this;
}

bool MemoryBudget::Reservation::Grow(uint64_t bytes) {
  if (budget_ == nullptr) return true;
  if (!budget_->TryReserve(bytes)) return false;
  bytes_ += bytes;
  return true;
}

void MemoryBudget::Reservation::Reset() {
  if (budget_ != nullptr) budget_->Release(bytes_);
  bytes_ = 0;
}

namespace {

// The first line of `path` as a byte count; nullopt when absent, "max" or unreadable.
std::optional<uint64_t> ReadLimit(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  uint64_t value;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) return std::nullopt;  // "max"
  // cgroup v1 writes "no limit" as a page-rounded LONG_MAX.
  if (value >= (uint64_t{1} << 62)) return std::nullopt;
  return value;
}

// The cgroup paths of this process ("0::/a/b" for v2, "N:memory:/a/b" for v1).
std::vector<std::pair<std::string, std::string>> CgroupPaths(const std::string& proc_self_cgroup) {
  std::vector<std::pair<std::string, std::string>> paths;  // (controllers, path)
  std::ifstream in(proc_self_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    paths.emplace_back(line.substr(first + 1, second - first - 1), line.substr(second + 1));
  }
  return paths;
}

}  // namespace

uint64_t AvailableMemoryBytes(const std::string& cgroup_root,
                              const std::string& proc_self_cgroup) {
  std::optional<uint64_t> limit;
  auto consider = [&](const std::string& path) {
    if (auto value = ReadLimit(path); value && (!limit || *value < *limit)) limit = value;
  };
  for (const auto& [controllers, path] : CgroupPaths(proc_self_cgroup)) {
    if (path.find("..") != std::string::npos) continue;
    if (controllers.empty()) consider(cgroup_root + path + "/memory.max");
    std::stringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');) {
      if (c == "memory") consider(cgroup_root + "/memory" + path + "/memory.limit_in_bytes");
    }
  }
  // Inside a container the process's cgroup is usually mounted as the root.
  consider(cgroup_root + "/memory.max");
  consider(cgroup_root + "/memory/memory.limit_in_bytes");
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  const uint64_t physical = pages > 0 && page_size > 0
                                ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size)
                                : uint64_t{4} << 30;
  return limit && *limit < physical ? *limit : physical;
}

uint64_t DefaultInflightBudget() { return AvailableMemoryBytes() / 4; }

}  // namespace ptserve::http
