// Shared by the config tests: config.pbtxt files as people write them.
#ifndef PTSERVE_CONFIG_TEST_CONFIGS_H_
#define PTSERVE_CONFIG_TEST_CONFIGS_H_

namespace ptserve::testing {

// A config.pbtxt as people write them for Triton's PyTorch backend.
inline constexpr char kTritonPytorchConfig[] = R"pb(
# MNIST MLP exported with torch.jit.trace
name: "mlp"
platform: "pytorch_libtorch"
max_batch_size: 32
version_policy: { latest: { num_versions: 2 } }
input [
  {
    name: "INPUT__0"
    data_type: TYPE_FP32
    dims: [ -1, 784 ]
  }
]
output [
  {
    name: "OUTPUT__0"
    data_type: TYPE_FP32
    dims: [ -1, 10 ]
  }
]
instance_group [
  {
    count: 2
    kind: KIND_GPU
    gpus: [ 0, 1 ]
  }
]
dynamic_batching {
  preferred_batch_size: [ 8, 16 ]
  max_queue_delay_microseconds: 100
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy {
    timeout_action: REJECT
    default_timeout_microseconds: 5000000
    allow_timeout_override: true
    max_queue_size: 64
  }
  priority_queue_policy {
    key: 1
    value: { timeout_action: DELAY max_queue_size: 16 }
  }
}
parameters: { key: "INFERENCE_MODE" value: { string_value: "true" } }
parameters: { key: "DISABLE_OPTIMIZED_EXECUTION" value: { string_value: "false" } }
model_warmup [
  {
    name: "zeros"
    batch_size: 4
    inputs {
      key: "INPUT__0"
      value: { data_type: TYPE_FP32 dims: [ 3, 784 ] zero_data: true }
    }
  }
]
)pb";

}  // namespace ptserve::testing

#endif  // PTSERVE_CONFIG_TEST_CONFIGS_H_
