// ModelInstance: one executable copy of a model version (the unit the
// scheduler runs batches on). Library-free interface: the scheduler and its
// tests see only this; backend/torchscript_* implements it with libtorch.
#ifndef PTSERVE_BACKEND_MODEL_INSTANCE_H_
#define PTSERVE_BACKEND_MODEL_INSTANCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace ptserve {

class ModelInstance {
 public:
  virtual ~ModelInstance() = default;

  // Called once, on the worker thread that will make every Execute() call,
  // before the first one (e.g. to set that thread's intra-op thread count).
  virtual void BindToThread() {}

  // Runs the model. `inputs` are in the model's input order; when the model
  // batches, dimension 0 of every input is the batch. Returns the outputs in
  // the model's output order. Errors carry the model's own message.
  // Not thread-safe: exactly one worker thread calls it.
  virtual absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) = 0;

  // A short description for logs, e.g. "cpu:0 intra_op=2".
  virtual std::string Describe() const { return "instance"; }
};

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_MODEL_INSTANCE_H_
