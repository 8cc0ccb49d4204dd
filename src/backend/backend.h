// Backend: turns a model version on disk into instances the scheduler can
// run. Library-free interface (the TorchScript implementation lives in
// torchscript_backend.*), so the repository and its tests need no libtorch.
#ifndef PTSERVE_BACKEND_BACKEND_H_
#define PTSERVE_BACKEND_BACKEND_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/model_instance.h"
#include "core/tensor_spec.h"
#include "profiling/profile.h"

namespace ptserve {

struct BackendLoadRequest {
  std::string model_name;
  // Config `platform` ("pytorch_libtorch", "torch_aoti", ...): which backend
  // loads the model (see platform_backends.h).
  std::string platform;
  std::string version_dir;   // .../<model>/<version>
  std::string model_file;    // "model.pt" / "model.pt2" (config default_model_filename)
  bool batched = false;      // max_batch_size > 0
  // From config.pbtxt; empty when there is none (the backend derives them).
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Backend options from config `parameters` (already validated by name).
  std::vector<std::pair<std::string, std::string>> parameters;
  // Inputs (in `inputs` order, batch dimension included when batched) to
  // check load-time optimisations on, e.g. the config's model_warmup. Empty:
  // the backend generates them from the input shapes.
  std::vector<std::vector<Tensor>> sample_inputs;
};

struct InstanceOptions {
  int index = 0;
  int intra_op_threads = 1;
  std::string device = "cpu";  // "cpu" or "cuda:N"
};

// A loaded model version: its IO, and a factory for instances that share
// its weights where the device allows.
class LoadedModel {
 public:
  virtual ~LoadedModel() = default;
  // Inputs in the order instances take them; outputs in the order they return them.
  virtual const std::vector<TensorSpec>& inputs() const = 0;
  virtual const std::vector<TensorSpec>& outputs() const = 0;
  // What was assumed or changed while loading (shown as load warnings).
  virtual const std::vector<std::string>& notes() const = 0;
  // The largest batch the model can run when it batches (a package exported
  // with a static batch dimension runs only that size); 0 = no limit of its
  // own beyond the config's max_batch_size.
  virtual int64_t batch_limit() const { return 0; }
  // How far the served (accelerated) module's outputs were from the original
  // model's on the load-time samples (relative L2 over all outputs; 0 when
  // served as loaded); nullopt when it was not measured.
  virtual std::optional<double> acceleration_difference() const { return std::nullopt; }
  // Output names learnt from the model's answers when the config names none
  // (e.g. the keys of a returned dict, in the dict's order); nullopt until known
  // or when the config names the outputs. Thread-safe.
  virtual std::optional<std::vector<std::string>> RuntimeOutputNames() const {
    return std::nullopt;
  }
  virtual absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(
      const InstanceOptions& options) = 0;
  // Profiles the model's next `request.executions` executions (any
  // instance) operator by operator; `done` runs once, on another thread,
  // when they are captured or at `request.timeout`. On error `done` never
  // runs: AlreadyExists while a capture of this model is open,
  // InvalidArgument for a bad request, Unimplemented where the backend
  // cannot profile. Costs nothing until called.
  virtual absl::Status Profile(const profiling::ProfileRequest& request,
                               profiling::ProfileCallback done) {
    return absl::UnimplementedError("this backend cannot profile its models");
  }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const BackendLoadRequest& request) = 0;
};

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_BACKEND_H_
