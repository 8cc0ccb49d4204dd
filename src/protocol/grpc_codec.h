// KServe v2 gRPC codec: inference::ModelInferRequest -> InferenceRequest,
// InferenceResponse -> inference::ModelInferResponse, and the metadata
// answers. Pure: protobuf messages in, messages out; no gRPC runtime.
//
//   ASSIGN_OR_RETURN(InferenceRequest request, DecodeGrpcInferRequest(message, limits));
//   EncodeGrpcInferResponse(response, &reply);
//
// Thread-safe (no shared state).
#ifndef PTSERVE_PROTOCOL_GRPC_CODEC_H_
#define PTSERVE_PROTOCOL_GRPC_CODEC_H_

#include "absl/status/statusor.h"
#include "core/inference.h"
#include "protocol/decode_limits.h"
#include "protocol/grpc_service.pb.h"
#include "protocol/model_metadata.h"
#include "protocol/model_statistics.h"

namespace ptserve {

// Decodes a ModelInferRequest, checking every input before anything is
// allocated: a known datatype, a shape within `limits`, and data that fits
// the shape exactly — either typed `contents` (the field that goes with the
// datatype, values in range for narrow types) or one `raw_input_contents`
// entry per input (BYTES: length-prefixed elements). Raw contents are moved
// out of `message` (no copy) into the tensors' shared owner.
// model_name, model_version and id are copied; parameters "timeout" (µs,
// integer >= 0) and "priority" (integer >= 0) are read; others are ignored.
// Every error is InvalidArgument naming the input and what is wrong.
absl::StatusOr<InferenceRequest> DecodeGrpcInferRequest(inference::ModelInferRequest& message,
                                                        const DecodeLimits& limits = {});

// Fills `out`: model_name, model_version, id, parameters (queue_time_us,
// compute_time_us, batch_size as int64), outputs (name, datatype, shape) and
// their bytes in raw_output_contents. Never fails.
void EncodeGrpcInferResponse(const InferenceResponse& response, inference::ModelInferResponse* out);

void EncodeGrpcServerMetadata(const ServerMetadata& metadata,
                              inference::ServerMetadataResponse* out);
void EncodeGrpcModelMetadata(const ModelMetadata& metadata, inference::ModelMetadataResponse* out);
// Triton's ModelStatistics: success/fail/queue/compute_infer durations (count and total ns),
// inference_count, last_inference; execution_count and batch_stats are left 0/empty (see
// ptserve_inference_executions_total and ptserve_inference_batch_size in GET /metrics).
void EncodeGrpcModelStatistics(const std::vector<ModelStatistics>& statistics,
                               inference::ModelStatisticsResponse* out);

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_GRPC_CODEC_H_
