// InferenceRequest / InferenceResponse: what every wire format decodes into
// and encodes from. Plain data; no behaviour beyond small helpers.
#ifndef PTSERVE_CORE_INFERENCE_H_
#define PTSERVE_CORE_INFERENCE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace ptserve {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// An output the client asked for, by name.
struct RequestedOutput {
  std::string name;
  bool binary = false;  // answer this output as raw bytes (binary extension)
};

struct InferenceRequest {
  std::string model_name;
  std::string model_version;  // "" = chosen by the model's version policy
  std::string id;             // echoed back in the response
  std::vector<NamedTensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty = every output
  bool binary_data_output = false;       // every output as raw bytes
  std::optional<int64_t> timeout_us;     // KServe parameters.timeout (µs)
  std::optional<int> priority;           // KServe parameters.priority
};

// How the server spent a request's time, reported back to the client.
struct InferenceTiming {
  int64_t queue_us = 0;    // from enqueue to the start of its batch
  int64_t compute_us = 0;  // its batch's execution, including gather/scatter
  int64_t batch_size = 0;  // rows in the batch it ran in
};

struct InferenceResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<NamedTensor> outputs;
  std::vector<bool> binary;  // per output: encode as raw bytes
  InferenceTiming timing;
};

// Called exactly once per request, on whichever thread finished it.
using InferenceCallback = std::function<void(absl::StatusOr<InferenceResponse>)>;

}  // namespace ptserve

#endif  // PTSERVE_CORE_INFERENCE_H_
