#include "repository/warmup.h"

#include <algorithm>
#include <future>
#include <random>

#include "absl/strings/str_cat.h"
#include "config/model_config_validation.h"
#include "core/sample_inputs.h"
#include "core/status_macros.h"
#include "repository/model_files.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace {

// The size a generated warm-up input gives variable dimension `d` of `spec`.
int64_t GeneratedDim(const TensorSpec& spec, size_t d, const InputDimLimits& limits) {
  const int64_t declared = spec.dims[d];
  if (declared >= 0) return declared;
  int64_t limit = limits.max_variable_dim;
  auto named = limits.per_input.find(spec.name);
  if (named != limits.per_input.end()) limit = d < named->second.size() ? named->second[d] : 0;
  return limit > 0 ? std::min(kSampleVariableDim, limit) : kSampleVariableDim;
}

// The config's model_warmup entries.
absl::StatusOr<std::vector<WarmupRun>> ConfiguredRuns(const LoadPlan& plan, bool batched,
                                                      std::mt19937& rng) {
  std::vector<WarmupRun> runs;
  for (const auto& w : plan.config.model_warmup()) {
    WarmupRun run;
    const int64_t batch = std::max<int64_t>(1, w.batch_size());
    for (const auto& [name, in] : w.inputs()) {
      Shape shape(in.dims().begin(), in.dims().end());
      if (batched) shape.insert(shape.begin(), batch);
      const DataType dtype = ToCoreDataType(in.data_type()).value_or(DataType::kFp32);
      // ValidateModelConfig bounded these (kMaxWarmupBytes in all).
      ASSIGN_OR_RETURN(int64_t count, ElementCount(shape));
      Tensor t;
      if (in.input_data_type_case() == config::ModelWarmup::Input::kInputDataFile) {
        const std::string what = absl::StrCat(plan.config_file, ": model_warmup '", w.name(),
                                              "' input '", name, "' input_data_file");
        ASSIGN_OR_RETURN(const std::string path,
                         ResolveFileInside(plan.dir, "warmup/" + in.input_data_file(), what));
        std::string bytes;
        if (dtype == DataType::kBytes) {
          ASSIGN_OR_RETURN(bytes, ReadFileAtMost(path, static_cast<uint64_t>(kMaxWarmupBytes)));
          RETURN_IF_ERROR(CheckSerializedBytes(bytes, count, absl::StrCat(what, " ", path)));
        } else {
          const uint64_t expected = static_cast<uint64_t>(count) * DataTypeSize(dtype);
          ASSIGN_OR_RETURN(bytes,
                           ReadFileExactly(path, expected,
                                           absl::StrCat(what, " (", ShapeToString(shape), " ",
                                                        std::string(DataTypeName(dtype)), ")")));
        }
        t = Tensor::FromBytes(dtype, shape, std::move(bytes));
      } else {
        ASSIGN_OR_RETURN(t, SampleTensor(dtype, shape, in.random_data(), rng));
      }
      run.request.inputs.push_back({name, std::move(t)});
    }
    run.count = std::max<int>(1, w.count());
    runs.push_back(std::move(run));
  }
  return runs;
}

}  // namespace

absl::Status CheckSerializedBytes(const std::string& bytes, int64_t count,
                                  const std::string& what) {
  size_t pos = 0;
  int64_t elements = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 4) break;
    const uint32_t length = static_cast<uint8_t>(bytes[pos]) |
                            static_cast<uint32_t>(static_cast<uint8_t>(bytes[pos + 1])) << 8 |
                            static_cast<uint32_t>(static_cast<uint8_t>(bytes[pos + 2])) << 16 |
                            static_cast<uint32_t>(static_cast<uint8_t>(bytes[pos + 3])) << 24;
    pos += 4;
    if (bytes.size() - pos < length) break;
    pos += length;
    ++elements;
  }
  if (pos != bytes.size() || elements != count) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the file must hold ", count, " length-prefixed BYTES elements"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<WarmupRun>> WarmupRequests(const LoadPlan& plan,
                                                      const std::vector<TensorSpec>& inputs,
                                                      bool batched, int64_t max_elements) {
  std::mt19937 rng(42);
  ASSIGN_OR_RETURN(std::vector<WarmupRun> runs, ConfiguredRuns(plan, batched, rng));
  if (!runs.empty()) return runs;
  // Generated. Every input's item size is known before anything is
  // allocated; the largest batch is cut down to what fits kMaxWarmupBytes.
  const config::ModelConfig& c = plan.config;
  const InputDimLimits limits = DimLimits(plan.params);
  int64_t item_bytes = 0;
  int64_t item_elements = 1;  // the largest input's, to keep under max_elements
  for (const TensorSpec& spec : inputs) {
    if (spec.any_shape) return std::vector<WarmupRun>{};  // nothing to generate from
    Shape item;
    for (size_t d = 0; d < spec.dims.size(); ++d) item.push_back(GeneratedDim(spec, d, limits));
    absl::StatusOr<int64_t> count = ElementCount(item, kMaxWarmupBytes);
    const int64_t size = std::max<int64_t>(1, DataTypeSize(spec.dtype));
    if (!count.ok() || *count > kMaxWarmupBytes / size ||
        item_bytes > kMaxWarmupBytes - *count * size) {
      spdlog::warn(
          "model '{}': no generated warm-up: one item of its inputs would take more than "
          "{} bytes",
          c.name(), kMaxWarmupBytes);
      return std::vector<WarmupRun>{};
    }
    item_bytes += *count * size;
    item_elements = std::max(item_elements, *count);
  }
  if (max_elements > 0 && item_elements > max_elements) {
    spdlog::warn(
        "model '{}': no generated warm-up: one item of its inputs has {} elements, more "
        "than --max-tensor-elements {}",
        c.name(), item_elements, max_elements);
    return std::vector<WarmupRun>{};
  }
  std::vector<int64_t> batches{1};
  if (batched && c.max_batch_size() > 1) {
    int64_t largest = std::min<int64_t>(c.max_batch_size(), kGeneratedWarmupMaxBatch);
    if (item_bytes > 0) largest = std::min(largest, kMaxWarmupBytes / item_bytes);
    if (max_elements > 0) {
      largest = std::min(largest, max_elements / std::max<int64_t>(1, item_elements));
    }
    if (largest > 1) batches.push_back(largest);
  }
  const VariableDimSize variable = [&limits](const TensorSpec& spec, size_t d) {
    return GeneratedDim(spec, d, limits);
  };
  for (int64_t batch : batches) {
    ASSIGN_OR_RETURN(std::vector<Tensor> tensors,
                     SampleInputs(inputs, batched ? batch : 0, variable, rng));
    WarmupRun run;
    run.count = 3;
    for (size_t i = 0; i < inputs.size(); ++i) {
      run.request.inputs.push_back({inputs[i].name, std::move(tensors[i])});
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

absl::Status RunWarmup(const std::vector<WarmupRun>& runs, ModelVersion& version) {
  for (const WarmupRun& run : runs) {
    for (int i = 0; i < run.count; ++i) {
      std::promise<absl::Status> done;
      auto future = done.get_future();
      auto ticket = version.Infer(run.request, [&done](absl::StatusOr<InferenceResponse> r) {
        // A copy of its own, not a reference shared with the worker thread:
        // Debian's Abseil is not built with ThreadSanitizer, which then cannot
        // see that a shared Status is refcounted.
        done.set_value(r.ok() ? absl::OkStatus()
                              : absl::Status(r.status().code(), std::string(r.status().message())));
      });
      if (!ticket.ok()) return ticket.status();
      absl::Status status = future.get();
      if (!status.ok()) {
        return absl::Status(status.code(), absl::StrCat("warm-up failed: ", status.message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace ptserve
