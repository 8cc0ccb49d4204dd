#include "repository/model_autotune.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "scheduler/batch_assembly.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace {

// One request's inputs in the model's order: the first warm-up request (the
// config's model_warmup, else generated from the declared shapes) of a
// single row when the model batches.
absl::StatusOr<ItemInputs> SampleItem(const std::vector<WarmupRun>& warmup,
                                      const LoadedModel& model, bool batched) {
  for (const WarmupRun& run : warmup) {
    ItemInputs item;
    for (const TensorSpec& spec : model.inputs()) {
      for (const NamedTensor& t : run.request.inputs) {
        if (t.name == spec.name) item.push_back(t.tensor);
      }
    }
    if (item.size() != model.inputs().size() || item.empty()) continue;
    if (batched && ItemRows(item) != 1) continue;
    return item;
  }
  return absl::FailedPreconditionError(
      "no sample request to measure with: declare the inputs' dims or give a model_warmup "
      "(of batch 1)");
}

}  // namespace

void ApplyAutotuneSetting(const AutotuneSetting& setting, config::ModelConfig& config) {
  config.clear_instance_group();
  config::ModelInstanceGroup* group = config.add_instance_group();
  group->set_count(setting.instances);
  group->set_kind(config::ModelInstanceGroup::KIND_CPU);
  (*config.mutable_parameters())["INTRA_OP_THREAD_COUNT"].set_string_value(
      std::to_string(setting.intra_op_threads));
  if (config.max_batch_size() > 0 && (setting.batch > 1 || config.has_dynamic_batching())) {
    config::ModelDynamicBatching* batching = config.mutable_dynamic_batching();
    batching->clear_preferred_batch_size();
    batching->add_preferred_batch_size(static_cast<int32_t>(setting.batch));
  }
}

absl::StatusOr<AutotuneResult> AutotuneModel(LoadPlan& plan, LoadedModel& model,
                                             const std::vector<WarmupRun>& warmup,
                                             const ModelAutotuneOptions& options) {
  const bool batched = plan.config.max_batch_size() > 0;
  absl::StatusOr<ItemInputs> item = SampleItem(warmup, model, batched);
  if (!item.ok()) return item.status();
  BatchLimits limits;
  limits.max_elements = options.max_tensor_elements;
  AutotuneOptions tune;
  tune.cpus = options.cpus;
  tune.max_batch = batched ? plan.config.max_batch_size() : 0;
  tune.budget_ms = options.budget_ms;
  tune.p99_target_us = plan.params.autotune_p99_us;
  auto make_instance = [&model](int index,
                                int threads) -> absl::StatusOr<std::unique_ptr<ModelInstance>> {
    return model.CreateInstance({index, threads, "cpu"});
  };
  auto batch_inputs = [&](int64_t batch) -> absl::StatusOr<std::vector<Tensor>> {
    if (batch <= 1) return *item;
    std::vector<const ItemInputs*> rows(static_cast<size_t>(batch), &*item);
    return GatherInputs(rows, {}, limits);
  };
  int blas_before = -1;
  if (options.exchange_blas_threads) {
    tune.prepare_layout = [&](int threads) {
      const int had = options.exchange_blas_threads(threads);
      if (blas_before < 0) blas_before = had;
    };
  }
  absl::StatusOr<AutotuneResult> result = Autotune(tune, make_instance, batch_inputs);
  if (blas_before >= 0) {
    // The size before tuning, grown to what the chosen instances will ask for when they bind.
    options.exchange_blas_threads(std::max(blas_before, 1));
  }
  if (!result.ok()) return result.status();
  for (absl::string_view line : absl::StrSplit(FormatAutotuneTable(*result), '\n')) {
    spdlog::info("model '{}' AUTOTUNE: {}", plan.config.name(), std::string(line));
  }
  if (!result->target_met) {
    spdlog::warn(
        "model '{}': no setting met AUTOTUNE_P99_US {} (twice the p99 execution "
        "time); serving the one with the lowest p99",
        plan.config.name(), plan.params.autotune_p99_us);
  }
  ApplyAutotuneSetting(result->chosen, plan.config);
  plan.params.intra_op_threads = result->chosen.intra_op_threads;
  return result;
}

}  // namespace ptserve
