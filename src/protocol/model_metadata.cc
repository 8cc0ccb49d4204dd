#include "protocol/model_metadata.h"

#include "protocol/json_writer.h"

namespace ptserve {
namespace {

void AppendStrings(std::string* out, const std::vector<std::string>& strings) {
  out->push_back('[');
  for (size_t i = 0; i < strings.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonString(out, strings[i]);
  }
  out->push_back(']');
}

void AppendTensors(std::string* out, const std::vector<TensorMetadata>& tensors) {
  out->push_back('[');
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (i) out->push_back(',');
    out->append("{\"name\":");
    AppendJsonString(out, tensors[i].name);
    out->append(",\"datatype\":");
    AppendJsonString(out, DataTypeName(tensors[i].datatype));
    out->append(",\"shape\":[");
    const Shape& shape = tensors[i].shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (d) out->push_back(',');
      AppendJsonInt(out, shape[d]);
    }
    out->append("]}");
  }
  out->push_back(']');
}

}  // namespace

std::string ServerMetadataJson(const ServerMetadata& metadata) {
  std::string body = "{\"name\":";
  AppendJsonString(&body, metadata.name);
  body.append(",\"version\":");
  AppendJsonString(&body, metadata.version);
  body.append(",\"extensions\":");
  AppendStrings(&body, metadata.extensions);
  body.push_back('}');
  return body;
}

std::string ModelMetadataJson(const ModelMetadata& metadata) {
  std::string body = "{\"name\":";
  AppendJsonString(&body, metadata.name);
  body.append(",\"versions\":");
  AppendStrings(&body, metadata.versions);
  body.append(",\"platform\":");
  AppendJsonString(&body, metadata.platform);
  body.append(",\"inputs\":");
  AppendTensors(&body, metadata.inputs);
  body.append(",\"outputs\":");
  AppendTensors(&body, metadata.outputs);
  body.append(",\"max_batch_size\":");
  AppendJsonInt(&body, metadata.max_batch_size);
  body.push_back('}');
  return body;
}

}  // namespace ptserve
