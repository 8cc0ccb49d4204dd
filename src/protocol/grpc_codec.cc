#include "protocol/grpc_codec.h"

#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace ptserve {
namespace {

using inference::InferParameter;
using inference::InferTensorContents;
using inference::ModelInferRequest;

absl::Status Invalid(const std::string& input, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("input '", input, "': ", absl::string_view(what.data(), what.size())));
}

// The typed field that carries `dtype`, and how many values it holds.
struct TypedField {
  const char* name;
  int size;
};
TypedField FieldFor(DataType dtype, const InferTensorContents& c) {
  switch (dtype) {
    case DataType::kBool:
      return {"bool_contents", c.bool_contents_size()};
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
      return {"int_contents", c.int_contents_size()};
    case DataType::kInt64:
      return {"int64_contents", c.int64_contents_size()};
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
      return {"uint_contents", c.uint_contents_size()};
    case DataType::kUint64:
      return {"uint64_contents", c.uint64_contents_size()};
    case DataType::kFp32:
      return {"fp32_contents", c.fp32_contents_size()};
    case DataType::kFp64:
      return {"fp64_contents", c.fp64_contents_size()};
    case DataType::kBytes:
      return {"bytes_contents", c.bytes_contents_size()};
    default:
      return {nullptr, 0};
  }
}

int64_t TotalValues(const InferTensorContents& c) {
  return int64_t{c.bool_contents_size()} + c.int_contents_size() + c.int64_contents_size() +
         c.uint_contents_size() + c.uint64_contents_size() + c.fp32_contents_size() +
         c.fp64_contents_size() + c.bytes_contents_size();
}

// Copies `values` into a buffer of `To`, checking that each fits.
template <typename To, typename Field>
absl::StatusOr<std::string> Narrow(const Field& values, const std::string& input,
                                   std::string_view type_name) {
  std::string buffer(static_cast<size_t>(values.size()) * sizeof(To), '\0');
  char* out = buffer.data();
  for (int i = 0; i < values.size(); ++i) {
    const auto v = values.Get(i);
    using From = std::remove_cv_t<decltype(v)>;
    if constexpr (!std::is_same_v<To, From>) {
      bool out_of_range = v > static_cast<From>(std::numeric_limits<To>::max());
      if constexpr (std::is_signed_v<From>) {
        out_of_range |= v < static_cast<From>(std::numeric_limits<To>::lowest());
      }
      if (out_of_range) {
        return Invalid(input, absl::StrCat("value ", v, " at index ", i, " is out of range for ",
                                           absl::string_view(type_name.data(), type_name.size())));
      }
    }
    const To t = static_cast<To>(v);
    std::memcpy(out + static_cast<size_t>(i) * sizeof(To), &t, sizeof(To));
  }
  return buffer;
}

absl::StatusOr<std::string> TypedBytes(DataType dtype, const InferTensorContents& c,
                                       const std::string& input) {
  const std::string_view type_name = DataTypeName(dtype);
  switch (dtype) {
    case DataType::kBool: {
      std::string buffer(static_cast<size_t>(c.bool_contents_size()), '\0');
      for (int i = 0; i < c.bool_contents_size(); ++i) buffer[i] = c.bool_contents(i) ? 1 : 0;
      return buffer;
    }
    case DataType::kInt8:
      return Narrow<int8_t>(c.int_contents(), input, type_name);
    case DataType::kInt16:
      return Narrow<int16_t>(c.int_contents(), input, type_name);
    case DataType::kInt32:
      return Narrow<int32_t>(c.int_contents(), input, type_name);
    case DataType::kInt64:
      return Narrow<int64_t>(c.int64_contents(), input, type_name);
    case DataType::kUint8:
      return Narrow<uint8_t>(c.uint_contents(), input, type_name);
    case DataType::kUint16:
      return Narrow<uint16_t>(c.uint_contents(), input, type_name);
    case DataType::kUint32:
      return Narrow<uint32_t>(c.uint_contents(), input, type_name);
    case DataType::kUint64:
      return Narrow<uint64_t>(c.uint64_contents(), input, type_name);
    case DataType::kFp32:
      return Narrow<float>(c.fp32_contents(), input, type_name);
    case DataType::kFp64:
      return Narrow<double>(c.fp64_contents(), input, type_name);
    case DataType::kBytes: {
      std::string buffer;
      for (const std::string& element : c.bytes_contents()) {
        const uint32_t length = static_cast<uint32_t>(element.size());
        buffer.append(reinterpret_cast<const char*>(&length), 4);
        buffer.append(element);
      }
      return buffer;
    }
    default:
      return Invalid(input, absl::StrCat(absl::string_view(type_name.data(), type_name.size()),
                                         " data can only be sent in raw_input_contents"));
  }
}

// Checks that `size` bytes at `data` hold exactly `count` serialized BYTES elements.
absl::Status CheckSerializedBytes(const std::string& data, int64_t count,
                                  const std::string& input) {
  size_t pos = 0;
  int64_t n = 0;
  while (pos < data.size()) {
    if (data.size() - pos < 4) {
      return Invalid(input,
                     absl::StrCat("raw BYTES data is truncated in the length of element ", n));
    }
    uint32_t len;
    std::memcpy(&len, data.data() + pos, 4);
    pos += 4;
    if (data.size() - pos < len) {
      return Invalid(input, absl::StrCat("raw BYTES element ", n, " has length ", len, " but only ",
                                         data.size() - pos, " bytes remain"));
    }
    pos += len;
    ++n;
  }
  if (n != count) {
    return Invalid(input,
                   absl::StrCat("raw BYTES data has ", n, " elements but the shape has ", count));
  }
  return absl::OkStatus();
}

// A non-negative integer parameter.
absl::StatusOr<int64_t> NonNegative(const InferParameter& p, const std::string& key) {
  if (p.parameter_choice_case() == InferParameter::kInt64Param && p.int64_param() >= 0) {
    return p.int64_param();
  }
  if (p.parameter_choice_case() == InferParameter::kUint64Param) {
    return static_cast<int64_t>(
        std::min<uint64_t>(p.uint64_param(), std::numeric_limits<int64_t>::max()));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("parameter '", key, "' must be a non-negative integer (int64_param)"));
}

InferParameter Int64Parameter(int64_t v) {
  InferParameter p;
  p.set_int64_param(v);
  return p;
}

}  // namespace

absl::StatusOr<InferenceRequest> DecodeGrpcInferRequest(ModelInferRequest& message,
                                                        const DecodeLimits& limits) {
  InferenceRequest request;
  request.model_name = message.model_name();
  request.model_version = message.model_version();
  request.id = message.id();
  for (const auto& [key, value] : message.parameters()) {
    if (key == "timeout") {
      ASSIGN_OR_RETURN(int64_t timeout, NonNegative(value, key));
      request.timeout_us = timeout;
    } else if (key == "priority") {
      ASSIGN_OR_RETURN(int64_t priority, NonNegative(value, key));
      request.priority = static_cast<int>(std::min<int64_t>(priority, 1 << 30));
    }
  }
  if (message.inputs_size() == 0) {
    return absl::InvalidArgumentError("the request has no inputs");
  }
  const bool raw = message.raw_input_contents_size() > 0;
  if (raw && message.raw_input_contents_size() != message.inputs_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raw_input_contents has ", message.raw_input_contents_size(),
        " entries but the request has ", message.inputs_size(),
        " inputs: when raw contents are used, every input has one, in the order of inputs"));
  }
  // The raw bytes move into an owner the tensors share (no copy).
  auto owner = std::make_shared<google::protobuf::RepeatedPtrField<std::string>>();
  if (raw) message.mutable_raw_input_contents()->Swap(owner.get());
  request.inputs.reserve(message.inputs_size());
  for (int i = 0; i < message.inputs_size(); ++i) {
    const ModelInferRequest::InferInputTensor& input = message.inputs(i);
    const std::string& name = input.name();
    if (name.empty())
      return absl::InvalidArgumentError(absl::StrCat("inputs[", i, "] has no name"));
    for (int j = 0; j < i; ++j) {
      if (message.inputs(j).name() == name) return Invalid(name, "is given twice");
    }
    const std::optional<DataType> dtype = DataTypeFromName(input.datatype());
    if (!dtype) {
      return Invalid(name, absl::StrCat("unknown datatype '", input.datatype().substr(0, 32),
                                        "' (valid: BOOL, UINT8, UINT16, UINT32, UINT64, INT8, "
                                        "INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES)"));
    }
    Shape shape(input.shape().begin(), input.shape().end());
    const absl::StatusOr<int64_t> count = ElementCount(shape, limits.max_elements);
    if (!count.ok()) {
      return Invalid(name,
                     absl::StrCat("shape ", ShapeToString(shape), ": ", count.status().message()));
    }
    NamedTensor named{name, {}};
    if (raw) {
      if (TotalValues(input.contents()) > 0) {
        return Invalid(name, "has both contents and raw_input_contents");
      }
      const std::string& bytes = owner->Get(i);
      if (*dtype == DataType::kBytes) {
        RETURN_IF_ERROR(CheckSerializedBytes(bytes, *count, name));
      } else {
        const uint64_t expected = static_cast<uint64_t>(*count) * DataTypeSize(*dtype);
        if (bytes.size() != expected) {
          return Invalid(name, absl::StrCat("raw_input_contents[", i, "] has ", bytes.size(),
                                            " bytes but shape ", ShapeToString(shape), " of ",
                                            input.datatype(), " needs ", expected));
        }
      }
      named.tensor = Tensor::View(*dtype, std::move(shape), owner,
                                  reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } else {
      const TypedField field = FieldFor(*dtype, input.contents());
      if (field.name == nullptr) {
        return Invalid(
            name, absl::StrCat(input.datatype(), " data can only be sent in raw_input_contents"));
      }
      if (field.size != *count) {
        const int64_t total = TotalValues(input.contents());
        return Invalid(
            name,
            absl::StrCat("shape ", ShapeToString(shape), " has ", *count, " elements but contents.",
                         field.name, " has ", field.size,
                         total != field.size
                             ? absl::StrCat(" (", input.datatype(), " data goes in ", field.name,
                                            "; other fields hold ", total - field.size, " values)")
                             : std::string()));
      }
      ASSIGN_OR_RETURN(std::string bytes, TypedBytes(*dtype, input.contents(), name));
      named.tensor = Tensor::FromBytes(*dtype, std::move(shape), std::move(bytes));
    }
    request.inputs.push_back(std::move(named));
  }
  for (const auto& output : message.outputs()) {
    if (output.name().empty()) return absl::InvalidArgumentError("an output has no name");
    request.outputs.push_back({output.name(), true});
  }
  request.binary_data_output = true;
  return request;
}

void EncodeGrpcInferResponse(const InferenceResponse& response,
                             inference::ModelInferResponse* out) {
  out->set_model_name(response.model_name);
  out->set_model_version(response.model_version);
  out->set_id(response.id);
  auto& parameters = *out->mutable_parameters();
  parameters["queue_time_us"] = Int64Parameter(response.timing.queue_us);
  parameters["compute_time_us"] = Int64Parameter(response.timing.compute_us);
  parameters["batch_size"] = Int64Parameter(response.timing.batch_size);
  for (const NamedTensor& output : response.outputs) {
    auto* tensor = out->add_outputs();
    tensor->set_name(output.name);
    const std::string_view type_name = DataTypeName(output.tensor.dtype());
    tensor->set_datatype(std::string(type_name));
    for (int64_t d : output.tensor.shape()) tensor->add_shape(d);
    out->add_raw_output_contents()->assign(reinterpret_cast<const char*>(output.tensor.data()),
                                           output.tensor.byte_size());
  }
}

void EncodeGrpcServerMetadata(const ServerMetadata& metadata,
                              inference::ServerMetadataResponse* out) {
  out->set_name(metadata.name);
  out->set_version(metadata.version);
  for (const std::string& e : metadata.extensions) out->add_extensions(e);
}

void EncodeGrpcModelMetadata(const ModelMetadata& metadata, inference::ModelMetadataResponse* out) {
  out->set_name(metadata.name);
  for (const std::string& v : metadata.versions) out->add_versions(v);
  out->set_platform(metadata.platform);
  for (const auto& [tensors, field] : {std::pair{&metadata.inputs, out->mutable_inputs()},
                                       std::pair{&metadata.outputs, out->mutable_outputs()}}) {
    for (const TensorMetadata& t : *tensors) {
      auto* m = field->Add();
      m->set_name(t.name);
      m->set_datatype(std::string(DataTypeName(t.datatype)));
      for (int64_t d : t.shape) m->add_shape(d);
    }
  }
}

void EncodeGrpcModelStatistics(const std::vector<ModelStatistics>& statistics,
                               inference::ModelStatisticsResponse* out) {
  for (const ModelStatistics& s : statistics) {
    auto* m = out->add_model_stats();
    m->set_name(s.name);
    m->set_version(s.version);
    m->set_last_inference(s.last_inference_ms);
    m->set_inference_count(s.inference_count);
    auto* stats = m->mutable_inference_stats();
    stats->mutable_success()->set_count(s.success_count);
    stats->mutable_success()->set_ns(s.success_ns);
    stats->mutable_fail()->set_count(s.failure_count);
    stats->mutable_fail()->set_ns(s.failure_ns);
    stats->mutable_queue()->set_count(s.success_count);
    stats->mutable_queue()->set_ns(s.queue_ns);
    stats->mutable_compute_infer()->set_count(s.success_count);
    stats->mutable_compute_infer()->set_ns(s.compute_ns);
    m->set_execution_count(s.execution_count);
    for (const ModelStatistics::Batch& batch : s.batch_stats) {
      auto* b = m->add_batch_stats();
      b->set_batch_size(static_cast<uint64_t>(batch.batch_size));
      b->mutable_compute_infer()->set_count(batch.count);
      b->mutable_compute_infer()->set_ns(batch.compute_ns);
    }
  }
}

}  // namespace ptserve
