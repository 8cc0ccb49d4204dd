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
      try {
        destroy();
      } catch (...) {  // a version's teardown must not take the process down
      }
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
    std::shared_ptr<metrics::ModelMetrics> metrics, metrics::InferenceMetrics& registry,
    InputDimLimits limits) {
  DeferredDestroyer::Get();  // started before it is needed, not on a worker thread
  return std::shared_ptr<ModelVersion>(
      new ModelVersion(std::move(name), version, std::move(config), std::move(model),
                       std::move(scheduler), std::move(metrics), registry, std::move(limits)),
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
                           metrics::InferenceMetrics& registry, InputDimLimits limits)
    : name_(std::move(name)),
      version_(version),
      version_string_(std::to_string(version)),
      config_(std::move(config)),
      limits_(std::move(limits)),
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

absl::Status ModelVersion::CheckLimits(size_t index, const Shape& shape) const {
  const TensorSpec& spec = inputs()[index];
  const auto named = limits_.per_input.find(spec.name);
  if (named == limits_.per_input.end() && limits_.max_variable_dim <= 0) return absl::OkStatus();
  const size_t offset = batched() && !shape.empty() ? 1 : 0;
  for (size_t d = offset; d < shape.size(); ++d) {
    const size_t declared = d - offset;
    int64_t limit = 0;
    const char* source = "MAX_INPUT_DIMS";
    if (named != limits_.per_input.end()) {
      if (declared < named->second.size()) limit = named->second[declared];
    } else if (spec.any_shape || (declared < spec.dims.size() && spec.dims[declared] < 0)) {
      limit = limits_.max_variable_dim;
      source = "MAX_SEQUENCE_LENGTH";
    }
    if (limit > 0 && shape[d] > limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", spec.name, "': dimension ", d, " has length ", shape[d],
          ", more than model '", name_, "' allows (", limit, ", parameter ", source, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ModelVersion::Infer(InferenceRequest request, InferenceCallback done) {
  try {
    return InferUnguarded(std::move(request), std::move(done));
  } catch (const std::exception& e) {  // e.g. std::bad_alloc; `done` never ran
    return absl::InternalError(
        absl::StrCat("model '", name_, "' cannot take the request: ", e.what()));
  }
}

absl::StatusOr<uint64_t> ModelVersion::InferUnguarded(InferenceRequest request,
                                                      InferenceCallback done) {
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
    if (absl::Status limits = CheckLimits(index, input.tensor.shape()); !limits.ok()) return limits;
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
    // Assembling the response may throw (std::bad_alloc): the request then
    // gets an Internal error; `done` itself runs outside the try, so that an
    // exception it throws is never answered twice (the scheduler logs it).
    absl::StatusOr<InferenceResponse> answer;
    try {
      answer = self->BuildResponse(id, selected, binary, all_outputs, *std::move(outputs), timing);
    } catch (const std::exception& e) {
      answer = absl::InternalError(absl::StrCat("model '", self->name_,
                                                "': assembling the response failed: ", e.what()));
    } catch (...) {
      answer = absl::InternalError(
          absl::StrCat("model '", self->name_, "': assembling the response failed"));
    }
    done(std::move(answer));
  };
  return scheduler_->Enqueue(std::move(scheduled));
}

absl::StatusOr<InferenceResponse> ModelVersion::BuildResponse(
    std::string& id, const std::vector<int>& selected, const std::vector<bool>& binary,
    bool all_outputs, std::vector<Tensor> outputs, const InferenceTiming& timing) const {
  InferenceResponse response;
  response.model_name = name_;
  response.model_version = version_string_;
  response.id = std::move(id);
  response.timing = timing;
  const std::vector<TensorSpec>& specs = this->outputs();
  if (all_outputs) {
    // Derived outputs named by the model's own answers (a dict's keys).
    std::optional<std::vector<std::string>> names = model_->RuntimeOutputNames();
    if (names && names->size() == outputs.size()) {
      for (size_t k = 0; k < outputs.size(); ++k) {
        response.outputs.push_back({(*names)[k], std::move(outputs[k])});
        response.binary.push_back(binary.empty() ? false : binary[0]);
      }
      return response;
    }
  }
  if (all_outputs && outputs.size() > specs.size()) {
    // Derived outputs: the model returned more than was assumed.
    for (size_t k = 0; k < outputs.size(); ++k) {
      response.outputs.push_back({absl::StrCat("OUTPUT__", k), std::move(outputs[k])});
      response.binary.push_back(binary.empty() ? false : binary[0]);
    }
    return response;
  }
  for (size_t j = 0; j < selected.size(); ++j) {
    const size_t k = selected[j];
    if (k >= outputs.size()) {
      return absl::InternalError(absl::StrCat("model '", name_, "' returned ", outputs.size(),
                                              " outputs; output '", specs[k].name,
                                              "' is missing"));
    }
    response.outputs.push_back({specs[k].name, outputs[k]});
    response.binary.push_back(binary[j]);
  }
  return response;
}

}  // namespace ptserve
