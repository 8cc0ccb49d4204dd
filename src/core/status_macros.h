// The only two error-propagation macros ptserve uses (see STYLE.md).
//
//   RETURN_IF_ERROR(DoThing());
//   ASSIGN_OR_RETURN(auto value, ComputeValue());
#ifndef PTSERVE_CORE_STATUS_MACROS_H_
#define PTSERVE_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PTSERVE_CONCAT_INNER_(a, b) a##b
#define PTSERVE_CONCAT_(a, b) PTSERVE_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status ptserve_status_ = (expr);           \
    if (!ptserve_status_.ok()) return ptserve_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  PTSERVE_ASSIGN_OR_RETURN_IMPL_(PTSERVE_CONCAT_(ptserve_statusor_, __LINE__), lhs, expr)

#define PTSERVE_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                   \
  if (!var.ok()) return std::move(var).status();       \
  lhs = std::move(var).value()

#endif  // PTSERVE_CORE_STATUS_MACROS_H_
