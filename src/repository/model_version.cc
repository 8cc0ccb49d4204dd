#include "repository/model_version.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/heap.h"

namespace ptserve {
namespace {

std::string Names(const std::vector<TensorSpec>& specs) {
  std::vector<std::string> names;
  for (const TensorSpec& s : specs) names.push_back(s.name);
  return absl::StrJoin(names, ", ");
}

// One thread that destroys the versions dropped on their own scheduler threads.
class DeferredDestroyer {
 public:
  static DeferredDestroyer& Get() {
    static DeferredDestroyer destroyer;
    return destroyer;
  }

  void Destroy(std::function<void()> destroy) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(std::move(destroy));
    cv_.notify_all();
  }

  void WaitIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [this] { return pending_.empty() && !busy_; });
  }

  DeferredDestroyer() : thread_([this] { Loop(); }) {}

  ~DeferredDestroyer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, nothing left
      std::function<void()> destroy = std::move(pending_.front());
      pending_.pop_front();
      busy_ = true;
      lock.unlock();
      destroy();
      lock.lock();
      busy_ = false;
      idle_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> pending_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

}  // namespace

std::shared_ptr<ModelVersion> ModelVersion::Create(
    std::string name, int64_t version, config::ModelConfig config,
    std::shared_ptr<LoadedModel> model, std::unique_ptr<Scheduler> scheduler,
    std::shared_ptr<metrics::ModelMetrics> metrics, metrics::InferenceMetrics& registry) {
  DeferredDestroyer::Get();  // started before it is needed, not on a worker thread
  return std::shared_ptr<ModelVersion>(
      new ModelVersion(std::move(name), version, std::move(config), std::move(model),
                       std::move(scheduler), std::move(metrics), registry),
      &ModelVersion::Destroy);
}

void ModelVersion::Destroy(ModelVersion* version) {
  auto destroy = [version] {
    delete version;
    ReleaseFreedHeapMemory();
  };
  if (version->scheduler_->OnSchedulerThread()) {
    DeferredDestroyer::Get().Destroy(destroy);
  } else {
    destroy();
  }
}

void ModelVersion::WaitForDeferredDestruction() { DeferredDestroyer::Get().WaitIdle(); }

ModelVersion::ModelVersion(std::string name, int64_t version, config::ModelConfig config,
                           std::shared_ptr<LoadedModel> model, std::unique_ptr<Scheduler> scheduler,
                           std::shared_ptr<metrics::ModelMetrics> metrics,
                           metrics::InferenceMetrics& registry)
    : name_(std::move(name)),
      version_(version),
      version_string_(std::to_string(version)),
      config_(std::move(config)),
      model_(std::move(model)),
      metrics_(std::move(metrics)),
      scheduler_(std::move(scheduler)) {
  Scheduler* s = scheduler_.get();
  queue_metrics_ = registry.RegisterQueue(
      name_, version_string_, static_cast<double>(s->options().max_queue_size),
      [s] { return static_cast<double>(s->Stats().queue_depth); },
      [s] { return static_cast<double>(s->Stats().in_flight); });
}

ModelVersion::~ModelVersion() { scheduler_->Drain(); }

absl::StatusOr<uint64_t> ModelVersion::Infer(InferenceRequest request, InferenceCallback done) {
  const std::vector<TensorSpec>& specs = inputs();
  std::vector<Tensor> ordered(specs.size());
  std::vector<bool> given(specs.size(), false);
  for (NamedTensor& input : request.inputs) {
    size_t index = specs.size();
    for (size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].name == input.name) index = i;
    }
    if (index == specs.size()) {
      return absl::InvalidArgumentError(absl::StrCat("model '", name_, "' has no input '",
                                                     input.name, "'; its inputs are: ",
                                                     Names(specs)));
    }
    const TensorSpec& spec = specs[index];
    if (given[index]) {
      return absl::InvalidArgumentError(absl::StrCat("input '", input.name, "' is given twice"));
    }
    if (!spec.any_shape && input.tensor.dtype() != spec.dtype) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", input.name, "' has datatype ", std::string(DataTypeName(input.tensor.dtype())),
          " but model '", name_, "' expects ", std::string(DataTypeName(spec.dtype))));
    }
    absl::Status shape = CheckShape(spec, input.tensor.shape(), batched(), config_.max_batch_size());
    if (!shape.ok()) return shape;
    given[index] = true;
    ordered[index] = std::move(input.tensor);
  }
  int64_t rows = -1;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!given[i]) {
      return absl::InvalidArgumentError(absl::StrCat("input '", specs[i].name,
                                                     "' is missing; model '", name_, "' needs: ",
                                                     Names(specs)));
    }
    if (batched()) {
      const int64_t r = ordered[i].shape().empty() ? -1 : ordered[i].shape()[0];
      if (rows >= 0 && r != rows) {
        return absl::InvalidArgumentError(absl::StrCat(
            "inputs disagree on the batch size (dimension 0): '", specs[0].name, "' has ", rows,
            ", '", specs[i].name, "' has ", r));
      }
      rows = r;
    }
  }
  // Which outputs, in which form.
  const std::vector<TensorSpec>& out_specs = outputs();
  std::vector<int> selected;
  std::vector<bool> binary;
  if (request.outputs.empty()) {
    for (size_t k = 0; k < out_specs.size(); ++k) {
      selected.push_back(static_cast<int>(k));
      binary.push_back(request.binary_data_output);
    }
  } else {
    for (const RequestedOutput& wanted : request.outputs) {
      int index = -1;
      for (size_t k = 0; k < out_specs.size(); ++k) {
        if (out_specs[k].name == wanted.name) index = static_cast<int>(k);
      }
      if (index < 0) {
        return absl::InvalidArgumentError(absl::StrCat("model '", name_, "' has no output '",
                                                       wanted.name, "'; its outputs are: ",
                                                       Names(out_specs)));
      }
      selected.push_back(index);
      binary.push_back(wanted.binary || request.binary_data_output);
    }
  }
  const bool all_outputs = request.outputs.empty();
  ScheduledRequest scheduled;
  scheduled.inputs = std::move(ordered);
  scheduled.timeout_us = request.timeout_us;
  scheduled.priority = request.priority;
  scheduled.done = [self = shared_from_this(), id = std::move(request.id),
                    selected = std::move(selected), binary = std::move(binary), all_outputs,
                    done = std::move(done)](absl::StatusOr<std::vector<Tensor>> outputs,
                                            const InferenceTiming& timing) mutable {
    if (!outputs.ok()) {
      done(outputs.status());
      return;
    }
    InferenceResponse response;
    response.model_name = self->name_;
    response.model_version = self->version_string_;
    response.id = std::move(id);
    response.timing = timing;
    const std::vector<TensorSpec>& specs = self->outputs();
    if (all_outputs && outputs->size() > specs.size()) {
      // Derived outputs: the model returned more than was assumed.
      for (size_t k = 0; k < outputs->size(); ++k) {
        response.outputs.push_back({absl::StrCat("OUTPUT__", k), std::move((*outputs)[k])});
        response.binary.push_back(binary.empty() ? false : binary[0]);
      }
    } else {
      for (size_t j = 0; j < selected.size(); ++j) {
        const size_t k = selected[j];
        if (k >= outputs->size()) {
          done(absl::InternalError(absl::StrCat("model '", self->name_, "' returned ",
                                                outputs->size(), " outputs; output '",
                                                specs[k].name, "' is missing")));
          return;
        }
        response.outputs.push_back({specs[k].name, (*outputs)[k]});
        response.binary.push_back(binary[j]);
      }
    }
    done(std::move(response));
  };
  return scheduler_->Enqueue(std::move(scheduled));
}

}  // namespace ptserve
