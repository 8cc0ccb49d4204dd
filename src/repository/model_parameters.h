// Per-model options given as config.pbtxt `parameters` entries (the way
// Triton's PyTorch backend takes its options). One table names every key
// ptserve knows; an unknown key is an error that lists them.
#ifndef PTSERVE_REPOSITORY_MODEL_PARAMETERS_H_
#define PTSERVE_REPOSITORY_MODEL_PARAMETERS_H_

#include <cstdint>
#include <map>
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
  // MAX_SEQUENCE_LENGTH "512": every variable (-1) dimension of every input
  // (every non-batch dimension of an input whose shape is not declared) is at
  // most this; a longer request is answered 400. 0 = no limit.
  int64_t max_sequence_length = 0;
  // MAX_INPUT_DIMS "input_ids:512,image:3x1024x1024": per input, the largest
  // size of each of its dimensions (batch excluded). One number bounds every
  // dimension of that input; "AxBxC" gives one per declared dimension (0:
  // that dimension has no limit beyond MAX_SEQUENCE_LENGTH). Overrides
  // MAX_SEQUENCE_LENGTH for the inputs it names.
  std::map<std::string, std::vector<int64_t>> max_input_dims;
  // OPERATOR_LIBRARIES "lib/libmy_ops.so,lib/libmore.so": shared libraries
  // that register operators (TORCH_LIBRARY), relative to the model's
  // directory and confined to it (CheckRelativeFileName here; symlinks are
  // resolved at load, ResolveFileInside), loaded before the model.
  std::vector<std::string> operator_libraries;
  // AUTOTUNE "true": instances x intra-op threads x batch size are measured
  // at load and chosen (scheduler/autotune.h); AUTOTUNE_P99_US bounds the
  // latency of the setting chosen (0 = no target).
  bool autotune = false;
  int64_t autotune_p99_us = 0;
  // Keys the backend receives (INFERENCE_MODE, PRECISION, QUANTIZATION,
  // QUANTIZED_ENGINE, OPTIMIZE, ACCURACY_TOLERANCE, LINEAR_KERNEL), values as written: the backend
  // parses and checks them (ParseAccelerationOptions), so they are parsed in one place.
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
