// Per-model options given as config.pbtxt `parameters` entries (the way
// Triton's PyTorch backend takes its options). One table names every key
// ptserve knows; an unknown key is an error that lists them.
#ifndef PTSERVE_REPOSITORY_MODEL_PARAMETERS_H_
#define PTSERVE_REPOSITORY_MODEL_PARAMETERS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/model_config.pb.h"
#include "scheduler/batch_assembly.h"

namespace ptserve {

struct ModelParameters {
  int intra_op_threads = 0;  // INTRA_OP_THREAD_COUNT; 0 = derived from the CPUs
  int inter_op_threads = 0;  // INTER_OP_THREAD_COUNT (process-wide in libtorch)
  // PAD_INPUTS "input_ids:0,attention_mask:0": inputs padded (with that
  // value) to the longest request in a batch.
  std::vector<std::pair<std::string, double>> pad_inputs;
  // TRIM_OUTPUTS "token_logits": outputs whose dimension 1 is cut back to
  // each request's own length after padding.
  std::vector<std::string> trim_outputs;
  // Keys the backend receives (INFERENCE_MODE, PRECISION, QUANTIZATION,
  // QUANTIZED_ENGINE, OPTIMIZE), values as written: the backend parses and
  // checks them (ParseAccelerationOptions), so they are parsed in one place.
  std::vector<std::pair<std::string, std::string>> backend;
  // Keys accepted but not acted on (for load warnings).
  std::vector<std::string> warnings;
};

// Parses and validates config.parameters. InvalidArgument naming the key
// for an unknown key (listing the valid ones) or a bad value of a key the
// repository acts on; the backend's keys are checked by the backend.
absl::StatusOr<ModelParameters> ParseModelParameters(const config::ModelConfig& config);

}  // namespace ptserve

#endif  // PTSERVE_REPOSITORY_MODEL_PARAMETERS_H_
