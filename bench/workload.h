// What the load generator sends: input tensors (from the model's metadata, --shape overrides,
// and zero/random data or a user's JSON/.npy file) encoded as one of the wire formats.
//
//   ASSIGN_OR_RETURN(ModelMetadata md, FetchModelMetadata(endpoint, "mlp"));
//   ASSIGN_OR_RETURN(std::vector<InputTensor> inputs, ResolveInputs(md, options));
//   ASSIGN_OR_RETURN(RequestSpec spec, BuildRequest(inputs, options));
//   std::string bytes = SerializeRequest("POST", spec.path, endpoint, spec.content_type,
//                                        spec.headers, spec.body);
//
// Formats: the seed's `POST /predict` with {"data":[...]} (the one input, flattened), KServe v2
// JSON (`POST /v2/models/{m}[/versions/{v}]/infer`), and KServe v2 binary tensors (JSON header
// with binary_data_size, raw little-endian bytes after it, Inference-Header-Content-Length,
// binary outputs requested).
#ifndef PTSERVE_BENCH_WORKLOAD_H_
#define PTSERVE_BENCH_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data_type.h"
#include "http_client.h"

namespace ptserve::bench {

enum class ApiKind { kPredict, kV2 };

struct TensorMeta {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;  // -1 = variable
};

struct ModelMetadata {
  std::string name;
  std::vector<TensorMeta> inputs;
};

struct InputTensor {
  TensorMeta meta;     // concrete shape
  std::string bytes;   // row-major little-endian; BYTES: 4-byte length + bytes per element
};

struct WorkloadOptions {
  ApiKind api = ApiKind::kV2;
  bool binary = false;           // KServe binary tensor extension (v2 only)
  std::string model_name;
  std::string model_version;     // empty: unversioned path
  int64_t batch_size = 1;        // replaces a leading -1 dimension
  // --shape name:d1,d2 → dims (the full shape, or the shape without the batch dimension).
  std::map<std::string, std::vector<int64_t>> shapes;
  std::string input_data = "random";  // "zero" | "random" | path to .json or .npy
  uint64_t seed = 1;
  std::string predict_path = "/predict";
};

struct RequestSpec {
  std::string path;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Parses a `GET /v2/models/{m}` answer.
absl::StatusOr<ModelMetadata> ParseModelMetadata(absl::string_view json);
absl::StatusOr<ModelMetadata> FetchModelMetadata(const Endpoint& endpoint,
                                                 const std::string& model_name,
                                                 const std::string& model_version);

// Parses "name:d1,d2" (a --shape flag) into `shapes`.
absl::Status ParseShapeFlag(absl::string_view flag,
                            std::map<std::string, std::vector<int64_t>>* shapes);

// Concrete input tensors: shapes from `metadata` (-1 batch → batch_size, other -1 → --shape or an
// error), data per options.input_data. A user file gives the tensors itself (a .json KServe
// request or {"data":[...]}, or a .npy array for the model's single input).
absl::StatusOr<std::vector<InputTensor>> ResolveInputs(const ModelMetadata& metadata,
                                                       const WorkloadOptions& options);

// Reads an .npy file (version 1-3, little-endian or byte-order-free dtypes, C order).
absl::StatusOr<InputTensor> LoadNpy(absl::string_view contents, std::string name);
// Reads a KServe v2 JSON request body or {"data":[...]} (nested or flat numbers; elements of
// `data_type`, tensor named "data", shape from the nesting) into tensors.
absl::StatusOr<std::vector<InputTensor>> LoadJsonInputs(absl::string_view contents,
                                                        DataType data_type = DataType::kFp32);

absl::StatusOr<RequestSpec> BuildRequest(const std::vector<InputTensor>& inputs,
                                         const WorkloadOptions& options);

// Renders the elements of `tensor` as a flat JSON array ("[0.5,1,...]").
std::string TensorDataJson(const InputTensor& tensor);
int64_t NumElements(const std::vector<int64_t>& shape);

}  // namespace ptserve::bench

#endif  // PTSERVE_BENCH_WORKLOAD_H_
