// AotiSignature: what an AOTInductor package says about its inputs and
// outputs. Two sources, both library-free:
//  - the call spec (torch.utils._pytree TreeSpecs serialized as JSON, from
//    AOTIModelContainerRunner::get_call_spec()): how many tensors go in and
//    come out, keyword-argument names and dict-output keys;
//  - ptserve's I/O metadata, stored in the package by
//    aoti_compile_and_package(..., inductor_configs={"aot_inductor.metadata":
//    {"ptserve.inputs": ..., "ptserve.outputs": ...}}) (scripts/make_examples.py
//    shows how): names, datatypes and full shapes with -1 for dimensions
//    exported as dynamic (torch.export.Dim). AOTInductor's generated code
//    checks no shapes at run time, so ptserve needs them to check requests.
//
//   ASSIGN_OR_RETURN(AotiSignature sig, ParseCallSpec(spec[0], spec[1]));
//   ASSIGN_OR_RETURN(std::vector<TensorSpec> in, ParseIoMetadata(meta.at("ptserve.inputs")));
#ifndef PTSERVE_BACKEND_AOTI_SIGNATURE_H_
#define PTSERVE_BACKEND_AOTI_SIGNATURE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor_spec.h"

namespace ptserve {

struct AotiSignature {
  // One entry per flattened tensor, in the order the model takes/returns
  // them: a keyword argument's or dict output's key; "" for positional ones.
  std::vector<std::string> input_keys;
  std::vector<std::string> output_keys;
};

// InvalidArgument when a spec is not a serialized TreeSpec.
absl::StatusOr<AotiSignature> ParseCallSpec(const std::string& in_spec, const std::string& out_spec);

// `[{"name": "x", "datatype": "FP32", "shape": [-1, 784]}, ...]`: full
// shapes (batch dimension included), -1 = dynamic. Returned specs keep the
// full shape in `dims`.
absl::StatusOr<std::vector<TensorSpec>> ParseIoMetadata(const std::string& json);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_AOTI_SIGNATURE_H_
