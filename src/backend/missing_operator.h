// What to say when a model needs an operator nobody registered. TorchScript
// fails such a load with "Unknown builtin op: torchvision::nms."; this names
// the operator and, where it is known, the library that provides it.
//
//   std::string op = MissingOperator(error.message());   // "torchvision::nms"
//   if (!op.empty() && !IsLibtorchOperator(op)) message += MissingOperatorAdvice(op);
//
// Library-free; pure functions.
#ifndef PTSERVE_BACKEND_MISSING_OPERATOR_H_
#define PTSERVE_BACKEND_MISSING_OPERATOR_H_

#include <string>
#include <string_view>

namespace ptserve {

// The qualified operator a load error says is unknown ("torchvision::nms"),
// or "" when the error is about something else.
std::string MissingOperator(std::string_view load_error);

// Whether `op` ("aten::add") lives in one of libtorch's own namespaces (aten,
// prim, quantized, ...): then no operator library provides it, libtorch does.
bool IsLibtorchOperator(std::string_view op);

// One sentence for an operator of an operator library that is not loaded,
// naming the library where known, e.g. for "torchvision::nms":
//   "operator torchvision::nms is registered by torchvision's operator library, which is not
//    loaded: install python3-torchvision or pass --operator-library PATH (...)"
std::string MissingOperatorAdvice(std::string_view op);

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_MISSING_OPERATOR_H_
