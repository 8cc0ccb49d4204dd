#include "repository/tensor_reshape.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace ptserve {

bool TensorReshapes::any() const {
  auto set = [](const std::optional<Shape>& s) { return s.has_value(); };
  return std::any_of(inputs.begin(), inputs.end(), set) ||
         std::any_of(outputs.begin(), outputs.end(), set);
}

std::vector<TensorSpec> ModelSideSpecs(const std::vector<TensorSpec>& specs,
                                       const std::vector<std::optional<Shape>>& reshapes) {
  std::vector<TensorSpec> out = specs;
  for (size_t i = 0; i < out.size() && i < reshapes.size(); ++i) {
    if (reshapes[i]) out[i].dims = *reshapes[i];
  }
  return out;
}

absl::StatusOr<Tensor> Reshape(Tensor t, const Shape& to, bool batched) {
  const Shape& from = t.shape();
  if (batched && from.empty()) {
    return absl::InvalidArgumentError("reshape: a batched tensor has no batch dimension");
  }
  Shape shape;
  if (batched) shape.push_back(from[0]);
  int64_t known = 1;
  int variable = -1;
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] < 0) {
      if (variable >= 0) return absl::InvalidArgumentError("reshape: more than one -1");
      variable = static_cast<int>(shape.size());
      shape.push_back(1);
      continue;
    }
    if (to[i] != 0 && known > INT64_MAX / to[i]) {
      return absl::InvalidArgumentError("reshape: element count overflows");
    }
    known *= to[i];
    shape.push_back(to[i]);
  }
  const int64_t count = t.element_count();
  const int64_t rows = batched ? from[0] : 1;
  const int64_t per_row = rows == 0 ? 0 : count / rows;
  if (variable >= 0) {
    if (known == 0 || per_row % known != 0) {
      return absl::InvalidArgumentError(absl::StrCat("cannot reshape ", ShapeToString(from),
                                                     " to ", ShapeToString(to)));
    }
    shape[variable] = per_row / known;
  } else if (known != per_row && rows != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot reshape ", ShapeToString(from), " (", per_row, " elements",
        batched ? " per batch row" : "", ") to ", ShapeToString(to), " (", known, ")"));
  }
  t.set_shape(std::move(shape));
  return t;
}

namespace {

// What a model and its instances share (instances may outlive the model).
struct ReshapeState {
  std::vector<TensorSpec> inputs;   // client side
  std::vector<TensorSpec> outputs;  // client side
  TensorReshapes reshapes;
  bool batched = false;
};

class ReshapingInstance : public ModelInstance {
 public:
  ReshapingInstance(std::unique_ptr<ModelInstance> inner, std::shared_ptr<const ReshapeState> state)
      : inner_(std::move(inner)), state_(std::move(state)) {}

  void BindToThread() override { inner_->BindToThread(); }
  std::string Describe() const override { return inner_->Describe(); }

  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    const TensorReshapes& r = state_->reshapes;
    std::vector<Tensor> model_inputs = inputs;
    for (size_t i = 0; i < model_inputs.size() && i < r.inputs.size(); ++i) {
      if (!r.inputs[i]) continue;
      ASSIGN_OR_RETURN(model_inputs[i],
                       Reshape(std::move(model_inputs[i]), *r.inputs[i], state_->batched));
    }
    ASSIGN_OR_RETURN(std::vector<Tensor> outputs, inner_->Execute(model_inputs));
    for (size_t k = 0; k < outputs.size() && k < r.outputs.size(); ++k) {
      if (!r.outputs[k] || k >= state_->outputs.size()) continue;
      const TensorSpec& spec = state_->outputs[k];
      auto reshaped = Reshape(std::move(outputs[k]), spec.dims, state_->batched);
      if (!reshaped.ok()) {
        return absl::InternalError(absl::StrCat("output '", spec.name,
                                                "': ", reshaped.status().message()));
      }
      outputs[k] = std::move(*reshaped);
    }
    return outputs;
  }

 private:
  std::unique_ptr<ModelInstance> inner_;
  std::shared_ptr<const ReshapeState> state_;
};

class ReshapedModel : public LoadedModel {
 public:
  ReshapedModel(std::shared_ptr<LoadedModel> inner, std::shared_ptr<const ReshapeState> state)
      : inner_(std::move(inner)), state_(std::move(state)) {}

  const std::vector<TensorSpec>& inputs() const override { return state_->inputs; }
  const std::vector<TensorSpec>& outputs() const override { return state_->outputs; }
  const std::vector<std::string>& notes() const override { return inner_->notes(); }
  int64_t batch_limit() const override { return inner_->batch_limit(); }
  std::optional<double> acceleration_difference() const override {
    return inner_->acceleration_difference();
  }
  std::optional<std::vector<std::string>> RuntimeOutputNames() const override {
    return inner_->RuntimeOutputNames();
  }
  absl::Status Profile(const profiling::ProfileRequest& request,
                       profiling::ProfileCallback done) override {
    return inner_->Profile(request, std::move(done));
  }
  absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(
      const InstanceOptions& options) override {
    ASSIGN_OR_RETURN(std::unique_ptr<ModelInstance> instance, inner_->CreateInstance(options));
    return std::unique_ptr<ModelInstance>(new ReshapingInstance(std::move(instance), state_));
  }

 private:
  std::shared_ptr<LoadedModel> inner_;
  std::shared_ptr<const ReshapeState> state_;
};

}  // namespace

std::shared_ptr<LoadedModel> ReshapeModel(std::shared_ptr<LoadedModel> model,
                                          std::vector<TensorSpec> client_inputs,
                                          std::vector<TensorSpec> client_outputs,
                                          TensorReshapes reshapes, bool batched) {
  if (!reshapes.any()) return model;
  // Derived specs (none in the config) come from the model itself.
  if (client_inputs.empty()) client_inputs = model->inputs();
  if (client_outputs.empty()) client_outputs = model->outputs();
  auto state = std::make_shared<ReshapeState>();
  state->inputs = std::move(client_inputs);
  state->outputs = std::move(client_outputs);
  state->reshapes = std::move(reshapes);
  state->batched = batched;
  return std::make_shared<ReshapedModel>(std::move(model), std::move(state));
}

}  // namespace ptserve
