#include "backend/aoti_signature.h"

#include <simdjson.h>

#include "absl/strings/str_cat.h"

namespace ptserve {
namespace {

using simdjson::dom::element;

constexpr int kMaxDepth = 32;
constexpr size_t kMaxLeaves = 4096;

// Appends the leaves of a TreeSpec node: `key` names a leaf that is the
// direct child of a dict.
absl::Status Flatten(element node, const std::string& key, int depth, std::vector<std::string>& out) {
  if (depth > kMaxDepth || out.size() > kMaxLeaves) {
    return absl::InvalidArgumentError("call spec nests too deep");
  }
  element children;
  if (node.is_array()) {
    // The top level is [protocol version, node].
    auto array = node.get_array();
    if (array.size() != 2) return absl::InvalidArgumentError("call spec: unexpected array");
    return Flatten(array.at(1), key, depth + 1, out);
  }
  if (!node.is_object() || node["children_spec"].get(children) != simdjson::SUCCESS ||
      !children.is_array()) {
    return absl::InvalidArgumentError("call spec: a node without children_spec");
  }
  std::string_view type;
  if (node["type"].get_string().get(type) != simdjson::SUCCESS) {
    out.push_back(key);  // a leaf: "type": null
    return absl::OkStatus();
  }
  std::vector<std::string> keys;
  if (type == "builtins.dict" || type == "collections.OrderedDict") {
    // context is a JSON string holding the list of keys.
    std::string_view context;
    simdjson::dom::parser inner;
    element parsed;
    if (node["context"].get_string().get(context) != simdjson::SUCCESS ||
        inner.parse(std::string(context)).get(parsed) != simdjson::SUCCESS || !parsed.is_array()) {
      return absl::InvalidArgumentError("call spec: a dict without its keys");
    }
    for (element k : parsed.get_array()) {
      std::string_view s;
      keys.push_back(k.get_string().get(s) == simdjson::SUCCESS ? std::string(s)
                                                                : simdjson::minify(k));
    }
  }
  size_t i = 0;
  for (element child : children.get_array()) {
    absl::Status s = Flatten(child, i < keys.size() ? keys[i] : "", depth + 1, out);
    if (!s.ok()) return s;
    ++i;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Leaves(const std::string& spec, absl::string_view what) {
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(spec).get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("the package's ", what, " spec is not JSON"));
  }
  std::vector<std::string> leaves;
  absl::Status s = Flatten(root, "", 0, leaves);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("the package's ", what, " spec: ", s.message()));
  return leaves;
}

}  // namespace

absl::StatusOr<AotiSignature> ParseCallSpec(const std::string& in_spec, const std::string& out_spec) {
  AotiSignature sig;
  auto in = Leaves(in_spec, "input");
  if (!in.ok()) return in.status();
  auto out = Leaves(out_spec, "output");
  if (!out.ok()) return out.status();
  sig.input_keys = std::move(*in);
  sig.output_keys = std::move(*out);
  return sig;
}

absl::StatusOr<std::vector<TensorSpec>> ParseIoMetadata(const std::string& json) {
  simdjson::dom::parser parser;
  element root;
  auto invalid = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("ptserve I/O metadata: ", why));
  };
  if (parser.parse(json).get(root) != simdjson::SUCCESS || !root.is_array()) {
    return invalid("not a JSON array");
  }
  std::vector<TensorSpec> specs;
  for (element e : root.get_array()) {
    TensorSpec spec;
    std::string_view name, datatype;
    element shape;
    if (e["name"].get_string().get(name) != simdjson::SUCCESS || name.empty()) {
      return invalid("an entry without a name");
    }
    spec.name = std::string(name);
    if (e["datatype"].get_string().get(datatype) != simdjson::SUCCESS) {
      return invalid(absl::StrCat("'", spec.name, "' has no datatype"));
    }
    auto dtype = DataTypeFromName(datatype);
    if (!dtype || *dtype == DataType::kBytes) {
      return invalid(absl::StrCat("'", spec.name, "': datatype '", std::string(datatype), "' is not a tensor type"));
    }
    spec.dtype = *dtype;
    if (e["shape"].get(shape) != simdjson::SUCCESS || !shape.is_array()) {
      return invalid(absl::StrCat("'", spec.name, "' has no shape"));
    }
    for (element d : shape.get_array()) {
      int64_t v;
      if (d.get_int64().get(v) != simdjson::SUCCESS || v < -1) {
        return invalid(absl::StrCat("'", spec.name, "': dimensions are integers >= -1"));
      }
      spec.dims.push_back(v);
    }
    if (spec.dims.size() > 16) return invalid(absl::StrCat("'", spec.name, "': more than 16 dimensions"));
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace ptserve
