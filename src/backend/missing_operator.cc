#include "backend/missing_operator.h"

#include "absl/strings/str_cat.h"

namespace ptserve {
namespace {

constexpr std::string_view kUnknownOp = "Unknown builtin op: ";

// libtorch's own operator namespaces.
constexpr std::string_view kLibtorchNamespaces[] = {
    "aten", "prim", "quantized", "_quantized", "prepacked", "mkldnn", "mkldnn_prepacked",
    "_caffe2", "profiler", "cuda", "onednn", "xnnpack", "quantized_decomposed", "inductor",
    "_c10d_functional", "c10d", "rngprims", "prims", "debugprims"};

struct Provider {
  std::string_view ns;
  std::string_view library;  // who registers it
  std::string_view install;  // how to get it
};

// Operator libraries whose namespace says where they come from.
constexpr Provider kProviders[] = {
    {"torchvision", "torchvision's operator library",
     "install python3-torchvision or pass --operator-library PATH (the torchvision/_C*.so "
     "of a torchvision built for this libtorch); ptserve loads Debian's at start"},
};

std::string_view Namespace(std::string_view op) {
  const size_t colons = op.find("::");
  return colons == std::string_view::npos ? std::string_view() : op.substr(0, colons);
}

}  // namespace

std::string MissingOperator(std::string_view load_error) {
  const size_t at = load_error.find(kUnknownOp);
  if (at == std::string_view::npos) return "";
  std::string_view op = load_error.substr(at + kUnknownOp.size());
  op = op.substr(0, op.find_first_of(". \n\r\t'\""));
  return std::string(op);
}

bool IsLibtorchOperator(std::string_view op) {
  const std::string_view ns = Namespace(op);
  if (ns.empty()) return true;  // an unqualified builtin: TorchScript's own
  for (std::string_view n : kLibtorchNamespaces) {
    if (ns == n) return true;
  }
  return false;
}

std::string MissingOperatorAdvice(std::string_view op) {
  const std::string_view ns = Namespace(op);
  for (const Provider& p : kProviders) {
    if (ns == p.ns) {
      return absl::StrCat("operator ", std::string(op), " is registered by ",
                          std::string(p.library), ", which is not loaded: ", std::string(p.install));
    }
  }
  return absl::StrCat("operator ", std::string(op),
                      " is not registered by libtorch nor by any loaded operator library: pass "
                      "the library that registers it (TORCH_LIBRARY(", std::string(ns),
                      ", ...)) with --operator-library PATH or the model's OPERATOR_LIBRARIES "
                      "parameter");
}

}  // namespace ptserve
