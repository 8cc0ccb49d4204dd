#include "metrics/inference_metrics.h"

#include <array>
#include <atomic>
#include <cmath>
#include <map>

#include "metrics/gpu_metrics.h"
#include "metrics/process_metrics.h"

namespace ptserve::metrics {
namespace {

using Labels = std::vector<std::string>;

Labels With(Labels labels, std::string extra) {
  labels.push_back(std::move(extra));
  return labels;
}

// Get-or-create would hand a new holder the child of a holder that is being
// destroyed (and about to unexport it); ForModel always starts fresh series.
template <typename Family>
auto Fresh(Family* family, const Labels& labels) {
  family->Remove(labels);
  return family->WithLabels(labels);
}

constexpr int kMaxHttpCode = 599;

}  // namespace

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess: return "success";
    case Outcome::kClientError: return "client_error";
    case Outcome::kServerError: return "server_error";
    case Outcome::kRejected: return "rejected";
    case Outcome::kTimedOut: return "timed_out";
    case Outcome::kCancelled: return "cancelled";
  }
  return "server_error";
}

struct ModelMetrics::State {
  explicit State(const InferenceMetrics::Options& o)
      : requests(&registry.AddCounter(
            "ptserve_inference_requests_total",
            "Inference requests answered, by outcome: success, client_error (bad request), "
            "server_error (model failure), rejected (queue full or shutting down), timed_out "
            "(deadline passed in the queue), cancelled (client went away).",
            {"model", "version", "variant", "outcome"})),
        request_duration(&registry.AddHistogram(
            "ptserve_inference_request_duration_seconds",
            "Time from a successful request's arrival to its response, in seconds.",
            {"model", "version", "variant"}, o.duration_buckets)),
        queue_duration(&registry.AddHistogram(
            "ptserve_inference_queue_duration_seconds",
            "Time a successful request waited in the queue before its batch started, in seconds.",
            {"model", "version", "variant"}, o.duration_buckets)),
        compute_duration(&registry.AddHistogram(
            "ptserve_inference_compute_duration_seconds",
            "Execution time of the batch a successful request ran in (gather, model, scatter), "
            "in seconds.",
            {"model", "version", "variant"}, o.duration_buckets)),
        executions(&registry.AddCounter("ptserve_inference_executions_total",
                                        "Batches executed (Triton: nv_inference_exec_count).",
                                        {"model", "version"})),
        rows(&registry.AddCounter(
            "ptserve_inference_rows_total",
            "Inferences executed, counting each row of a batch (Triton: nv_inference_count).",
            {"model", "version"})),
        batch_size(&registry.AddHistogram("ptserve_inference_batch_size",
                                          "Rows per executed batch.", {"model", "version"},
                                          o.batch_size_buckets)),
        queue_depth(&registry.AddGauge("ptserve_inference_queue_depth",
                                       "Requests waiting in the queue.", {"model", "version"})),
        in_flight(&registry.AddGauge("ptserve_inference_in_flight",
                                     "Requests in batches executing now.", {"model", "version"})),
        queue_capacity(&registry.AddGauge("ptserve_inference_queue_capacity",
                                          "Requests the queue holds before new ones are rejected.",
                                          {"model", "version"})),
        model_state(&registry.AddGauge(
            "ptserve_model_state",
            "1 for the current state of a model version (LOADING, READY, UNAVAILABLE, "
            "UNLOADED), 0 for the others.",
            {"model", "version", "state"})),
        load_duration(&registry.AddGauge(
            "ptserve_model_load_duration_seconds",
            "Time the last load of a model version took, warm-up included, in seconds.",
            {"model", "version"})),
        acceleration_difference(&registry.AddGauge(
            "ptserve_model_acceleration_difference",
            "Relative L2 difference of the served (accelerated) module's outputs from the "
            "original model's on the load-time samples.",
            {"model", "version"})),
        autotune_setting(&registry.AddGauge(
            "ptserve_model_autotune_setting",
            "The setting AUTOTUNE chose at load: instances, intra_op_threads, batch_size.",
            {"model", "version", "setting"})),
        autotune_rows(&registry.AddGauge(
            "ptserve_model_autotune_rows_per_second",
            "Rows per second AUTOTUNE measured in-process for the setting it chose.",
            {"model", "version"})),
        autotune_seconds(&registry.AddGauge("ptserve_model_autotune_seconds",
                                            "Time AUTOTUNE took at the last load, in seconds.",
                                            {"model", "version"})),
        shadow_difference(&registry.AddHistogram(
            "ptserve_shadow_output_difference",
            "Largest absolute difference between a shadow variant's answer and the primary's.",
            {"model", "shadow"}, {1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100})),
        http_requests(&registry.AddCounter("ptserve_http_requests_total",
                                           "HTTP responses sent, by status code.", {"code"})),
        http_open(
            &registry.AddGauge("ptserve_http_open_connections", "HTTP connections open now.")) {
    for (auto& c : http_codes) c.store(nullptr, std::memory_order_relaxed);
    if (o.process_metrics) process = ProcessMetrics::Register(registry);
    if (o.gpu_metrics) gpu = GpuMetrics::Register(registry, o.nvml_library.c_str());
  }

  Registry registry;  // first: destroyed after every registration below
  CounterFamily* const requests;
  HistogramFamily* const request_duration;
  HistogramFamily* const queue_duration;
  HistogramFamily* const compute_duration;
  CounterFamily* const executions;
  CounterFamily* const rows;
  HistogramFamily* const batch_size;
  GaugeFamily* const queue_depth;
  GaugeFamily* const in_flight;
  GaugeFamily* const queue_capacity;
  GaugeFamily* const model_state;
  GaugeFamily* const load_duration;
  GaugeFamily* const acceleration_difference;
  GaugeFamily* const autotune_setting;
  GaugeFamily* const autotune_rows;
  GaugeFamily* const autotune_seconds;
  HistogramFamily* const shadow_difference;
  CounterFamily* const http_requests;
  GaugeFamily* const http_open;

  // Guards the two maps, and makes creating and unexporting a key's series
  // one step each.
  Mutex mu;
  std::map<Labels, std::weak_ptr<ModelMetrics>> models
      ABSL_GUARDED_BY(mu);  // model, version, variant
  std::map<Labels, std::weak_ptr<ModelMetrics::Executions>> execs
      ABSL_GUARDED_BY(mu);  // model, version

  // Index: status code (0 for out-of-range codes). The children are never
  // removed, so the raw pointers stay valid.
  std::array<std::atomic<Counter*>, kMaxHttpCode + 1> http_codes;

  std::unique_ptr<ProcessMetrics> process;
  std::unique_ptr<GpuMetrics> gpu;
};

struct ModelMetrics::Executions {
  std::shared_ptr<State> state;
  Labels labels;  // model, version
  std::shared_ptr<Counter> executions;
  std::shared_ptr<Counter> rows;
  std::shared_ptr<Histogram> batch_size;

  ~Executions() {
    MutexLock lock(state->mu);
    state->executions->Remove(labels, executions.get());
    state->rows->Remove(labels, rows.get());
    state->batch_size->Remove(labels, batch_size.get());
    auto it = state->execs.find(labels);
    if (it != state->execs.end() && it->second.expired()) state->execs.erase(it);
  }
};

ModelMetrics::~ModelMetrics() {
  if (!state_) return;
  MutexLock lock(state_->mu);
  for (int i = 0; i < kOutcomeCount; ++i) {
    state_->requests->Remove(With(labels_, OutcomeName(static_cast<Outcome>(i))),
                             owned_requests_[i].get());
  }
  state_->request_duration->Remove(labels_, owned_request_duration_.get());
  state_->queue_duration->Remove(labels_, owned_queue_duration_.get());
  state_->compute_duration->Remove(labels_, owned_compute_duration_.get());
  auto it = state_->models.find(labels_);
  if (it != state_->models.end() && it->second.expired()) state_->models.erase(it);
  // executions_owner_ is released after this body, outside the lock.
}

InferenceMetrics::InferenceMetrics(Options options) : enabled_(options.enabled) {
  if (enabled_) state_ = std::make_shared<ModelMetrics::State>(options);
}

InferenceMetrics::~InferenceMetrics() = default;

Registry* InferenceMetrics::registry() { return state_ ? &state_->registry : nullptr; }

std::shared_ptr<ModelMetrics> InferenceMetrics::ForModel(const std::string& model,
                                                         const std::string& version,
                                                         const std::string& variant) {
  if (!enabled_) {
    static const std::shared_ptr<ModelMetrics>* const disabled =
        new std::shared_ptr<ModelMetrics>(new ModelMetrics());
    return *disabled;
  }
  ModelMetrics::State& s = *state_;
  const Labels labels = {model, version, variant};
  const Labels version_labels = {model, version};
  MutexLock lock(s.mu);
  if (std::shared_ptr<ModelMetrics> existing = s.models[labels].lock()) return existing;

  std::shared_ptr<ModelMetrics::Executions> execs = s.execs[version_labels].lock();
  if (!execs) {
    execs = std::make_shared<ModelMetrics::Executions>();
    execs->state = state_;
    execs->labels = version_labels;
    execs->executions = Fresh(s.executions, version_labels);
    execs->rows = Fresh(s.rows, version_labels);
    execs->batch_size = Fresh(s.batch_size, version_labels);
    s.execs[version_labels] = execs;
  }

  std::shared_ptr<ModelMetrics> m(new ModelMetrics());
  m->enabled_ = true;
  m->state_ = state_;
  m->labels_ = labels;
  for (int i = 0; i < kOutcomeCount; ++i) {
    m->owned_requests_[i] = Fresh(s.requests, With(labels, OutcomeName(static_cast<Outcome>(i))));
    m->requests_[i] = m->owned_requests_[i].get();
  }
  m->owned_request_duration_ = Fresh(s.request_duration, labels);
  m->owned_queue_duration_ = Fresh(s.queue_duration, labels);
  m->owned_compute_duration_ = Fresh(s.compute_duration, labels);
  m->request_duration_ = m->owned_request_duration_.get();
  m->queue_duration_ = m->owned_queue_duration_.get();
  m->compute_duration_ = m->owned_compute_duration_.get();
  m->executions_ = execs->executions.get();
  m->rows_ = execs->rows.get();
  m->batch_size_ = execs->batch_size.get();
  m->executions_owner_ = std::move(execs);
  s.models[labels] = m;
  return m;
}

Registration InferenceMetrics::RegisterQueue(const std::string& model, const std::string& version,
                                             double capacity, std::function<double()> depth,
                                             std::function<double()> in_flight) {
  if (!enabled_) return Registration();
  const Labels labels = {model, version};
  auto regs = std::make_shared<std::vector<Registration>>();
  regs->push_back(state_->queue_depth->AddCallback(labels, std::move(depth)));
  regs->push_back(state_->in_flight->AddCallback(labels, std::move(in_flight)));
  regs->push_back(state_->queue_capacity->AddCallback(labels, [capacity] { return capacity; }));
  // Holding state_ keeps the families alive for as long as the registration.
  return Registration([state = state_, regs] { regs->clear(); });
}

void InferenceMetrics::SetModelState(const std::string& model, const std::string& version,
                                     ModelState state) {
  if (!enabled_) return;
  for (int i = 0; i < kModelStateCount; ++i) {
    const auto si = static_cast<ModelState>(i);
    state_->model_state->WithLabels({model, version, ModelStateName(si)})
        ->Set(si == state ? 1 : 0);
  }
}

void InferenceMetrics::SetModelLoadDuration(const std::string& model, const std::string& version,
                                            double seconds) {
  if (!enabled_) return;
  state_->load_duration->WithLabels({model, version})->Set(seconds);
}

void InferenceMetrics::SetAccelerationDifference(const std::string& model,
                                                 const std::string& version,
                                                 std::optional<double> difference) {
  if (!enabled_) return;
  if (difference) {
    state_->acceleration_difference->WithLabels({model, version})->Set(*difference);
  } else {
    state_->acceleration_difference->Remove({model, version});
  }
}

void InferenceMetrics::SetAutotune(const std::string& model, const std::string& version,
                                   const std::optional<AutotuneChoice>& choice) {
  if (!enabled_) return;
  const char* const settings[] = {"instances", "intra_op_threads", "batch_size"};
  if (!choice) {
    for (const char* setting : settings)
      state_->autotune_setting->Remove({model, version, setting});
    state_->autotune_rows->Remove({model, version});
    state_->autotune_seconds->Remove({model, version});
    return;
  }
  const double values[] = {static_cast<double>(choice->instances),
                           static_cast<double>(choice->intra_op_threads),
                           static_cast<double>(choice->batch_size)};
  for (size_t i = 0; i < 3; ++i) {
    state_->autotune_setting->WithLabels({model, version, settings[i]})->Set(values[i]);
  }
  state_->autotune_rows->WithLabels({model, version})->Set(choice->rows_per_second);
  state_->autotune_seconds->WithLabels({model, version})->Set(choice->seconds);
}

void InferenceMetrics::RecordShadowDifference(const std::string& routed_model,
                                              const std::string& shadow,
                                              double max_abs_difference) {
  if (!enabled_) return;
  // NaN or infinite (a shadow answered NaN where the primary did not) goes to
  // the +Inf bucket with a finite value, so the sum stays usable.
  const double v = std::isfinite(max_abs_difference) ? max_abs_difference : 1e30;
  state_->shadow_difference->WithLabels({routed_model, shadow})->Observe(v);
}

void InferenceMetrics::RemoveModelVersion(const std::string& model, const std::string& version) {
  if (!enabled_) return;
  SetAutotune(model, version, std::nullopt);
  state_->acceleration_difference->Remove({model, version});
  for (int i = 0; i < kModelStateCount; ++i) {
    state_->model_state->Remove({model, version, ModelStateName(static_cast<ModelState>(i))});
  }
  state_->load_duration->Remove({model, version});
}

void InferenceMetrics::RecordHttpResponse(int code) {
  if (!enabled_) return;
  const int index = code >= 100 && code <= kMaxHttpCode ? code : 0;
  std::atomic<Counter*>& slot = state_->http_codes[index];
  Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // First response with this code: WithLabels is get-or-create, so racing
    // threads store the same pointer.
    counter = state_->http_requests->WithLabels({index == 0 ? "other" : std::to_string(index)})
                  .get();
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
}

Registration InferenceMetrics::RegisterHttpConnections(std::function<double()> open_connections) {
  if (!enabled_) return Registration();
  auto reg =
      std::make_shared<Registration>(state_->http_open->AddCallback({}, std::move(open_connections)));
  return Registration([state = state_, reg] { reg->Release(); });
}

std::string InferenceMetrics::Scrape() const { return state_ ? state_->registry.Scrape() : ""; }

}  // namespace ptserve::metrics
