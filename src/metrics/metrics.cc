#include "metrics/metrics.h"

#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "metrics/text_format.h"

namespace ptserve::metrics {

namespace internal {
void Die(const std::string& message) {
  std::fprintf(stderr, "ptserve metrics: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace internal

namespace {

std::string JoinValues(const std::vector<std::string>& values) {
  std::string s;
  for (const std::string& v : values) {
    if (!s.empty()) s += ", ";
    s += '"' + v + '"';
  }
  return s;
}

}  // namespace

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      counts_(new std::atomic<uint64_t>[bounds_->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1) {
    internal::Die("ExponentialBuckets needs start > 0, factor > 1, count >= 1");
  }
  std::vector<double> bounds;
  bounds.reserve(count);
  double b = start;
  for (int i = 0; i < count; ++i, b *= factor) bounds.push_back(b);
  return bounds;
}

std::vector<double> DurationBuckets() {
  // Written out (not computed) so the `le` labels are exact decimal values.
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
          50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10, 30};
}

std::vector<double> BatchSizeBuckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256}; }

Registration& Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    Release();
    release_ = std::move(other.release_);
    other.release_ = nullptr;
  }
  return *this;
}

void Registration::Release() {
  if (release_) {
    std::function<void()> release = std::move(release_);
    release_ = nullptr;
    release();
  }
}

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {
  if (!IsValidMetricName(name_)) internal::Die("invalid metric name '" + name_ + "'");
  for (size_t i = 0; i < label_names_.size(); ++i) {
    const std::string& l = label_names_[i];
    if (!IsValidLabelName(l)) {
      internal::Die("metric '" + name_ + "': invalid label name '" + l + "'");
    }
    if (type_ == MetricType::kHistogram && l == "le") {
      internal::Die("histogram '" + name_ + "' may not have a label named 'le'");
    }
    for (size_t j = 0; j < i; ++j) {
      if (label_names_[j] == l) internal::Die("metric '" + name_ + "': label '" + l + "' twice");
    }
  }
}

void FamilyBase::CheckArity(const std::vector<std::string>& values) const {
  if (values.size() != label_names_.size()) {
    internal::Die("metric '" + name_ + "' has " + std::to_string(label_names_.size()) +
                  " labels but was given " + std::to_string(values.size()) + " values: " +
                  JoinValues(values));
  }
}

template <typename Child>
std::shared_ptr<Child> ScalarFamily<Child>::WithLabels(const std::vector<std::string>& values) {
  CheckArity(values);
  MutexLock lock(mu_);
  std::shared_ptr<Child>& child = children_[values];
  if (!child) child = std::make_shared<Child>();
  return child;
}

template <typename Child>
bool ScalarFamily<Child>::Remove(const std::vector<std::string>& values, const Child* only) {
  MutexLock lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end() || (only != nullptr && it->second.get() != only)) return false;
  children_.erase(it);
  return true;
}

template <typename Child>
Registration ScalarFamily<Child>::AddCallback(const std::vector<std::string>& values,
                                              std::function<double()> read) {
  CheckArity(values);
  uint64_t id;
  {
    MutexLock lock(mu_);
    id = next_callback_id_++;
    children_.erase(values);
    callbacks_[values] = Callback{id, std::move(read)};
  }
  return Registration([this, values, id] {
    MutexLock lock(mu_);
    auto it = callbacks_.find(values);
    if (it != callbacks_.end() && it->second.id == id) callbacks_.erase(it);
  });
}

template <typename Child>
size_t ScalarFamily<Child>::WriteSamples(std::string* out) const {
  MutexLock lock(mu_);
  // Merge the two ordered maps so the output is ordered by label values.
  auto c = children_.begin();
  auto f = callbacks_.begin();
  size_t n = 0;
  while (c != children_.end() || f != callbacks_.end()) {
    const bool take_callback =
        c == children_.end() || (f != callbacks_.end() && !(c->first < f->first));
    if (take_callback) {
      if (c != children_.end() && c->first == f->first) ++c;  // the callback wins
      AppendSample(out, name(), label_names(), f->first, nullptr, nullptr, f->second.read());
      ++f;
    } else {
      AppendSample(out, name(), label_names(), c->first, nullptr, nullptr, c->second->Value());
      ++c;
    }
    ++n;
  }
  return n;
}

template class ScalarFamily<Counter>;
template class ScalarFamily<Gauge>;

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help), MetricType::kHistogram,
                 std::move(label_names)),
      bounds_(std::make_shared<const std::vector<double>>(std::move(bounds))) {
  const std::vector<double>& b = *bounds_;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b[i]) || (i > 0 && !(b[i - 1] < b[i]))) {
      internal::Die("histogram '" + this->name() +
                    "': bucket bounds must be finite and strictly increasing");
    }
  }
}

std::shared_ptr<Histogram> HistogramFamily::WithLabels(const std::vector<std::string>& values) {
  CheckArity(values);
  MutexLock lock(mu_);
  std::shared_ptr<Histogram>& child = children_[values];
  if (!child) child = std::make_shared<Histogram>(bounds_);
  return child;
}

bool HistogramFamily::Remove(const std::vector<std::string>& values, const Histogram* only) {
  MutexLock lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end() || (only != nullptr && it->second.get() != only)) return false;
  children_.erase(it);
  return true;
}

size_t HistogramFamily::WriteSamples(std::string* out) const {
  // Bound labels are formatted once per scrape, not per series.
  std::vector<std::string> le;
  le.reserve(bounds_->size() + 1);
  for (double b : *bounds_) {
    std::string s;
    AppendValue(&s, b);
    le.push_back(std::move(s));
  }
  le.push_back("+Inf");
  const std::string bucket = name() + "_bucket";
  const std::string sum = name() + "_sum";
  const std::string count = name() + "_count";

  MutexLock lock(mu_);
  for (const auto& [values, child] : children_) {
    const Histogram::Snapshot s = child->Read();
    for (size_t i = 0; i < le.size(); ++i) {
      AppendSample(out, bucket, label_names(), values, "le", le[i].c_str(),
                   static_cast<double>(s.cumulative[i]));
    }
    AppendSample(out, sum, label_names(), values, nullptr, nullptr, s.sum);
    AppendSample(out, count, label_names(), values, nullptr, nullptr,
                 static_cast<double>(s.count));
  }
  return children_.size();
}

}  // namespace ptserve::metrics
