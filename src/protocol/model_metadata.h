// Server and model metadata (KServe v2): the protocol-neutral answer, and
// its JSON wire format (GET /v2, GET /v2/models/{m}[/versions/{v}]). The gRPC
// messages are made from the same structs (protocol/grpc_codec.h).
//
//   std::string body = ModelMetadataJson(metadata);
#ifndef PTSERVE_PROTOCOL_MODEL_METADATA_H_
#define PTSERVE_PROTOCOL_MODEL_METADATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/data_type.h"
#include "core/tensor.h"

namespace ptserve {

struct ServerMetadata {
  std::string name = "ptserve";
  std::string version;
  std::vector<std::string> extensions;
};

struct TensorMetadata {
  std::string name;
  DataType datatype = DataType::kFp32;
  Shape shape;  // -1 = any size
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;  // ready ones, newest first
  std::string platform;
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
  int64_t max_batch_size = 0;
};

// {"name":..,"version":..,"extensions":[..]}
std::string ServerMetadataJson(const ServerMetadata& metadata);
// {"name":..,"versions":[..],"platform":..,"inputs":[{"name","datatype","shape"}],
//  "outputs":[..],"max_batch_size":..}
std::string ModelMetadataJson(const ModelMetadata& metadata);

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_MODEL_METADATA_H_
