// Small helpers for propagating absl::Status; Debian 12's Abseil (20220623)
// predates ABSL_RETURN_IF_ERROR / ASSIGN_OR_RETURN.
#ifndef LLM_CORE_UTIL_STATUS_MACROS_H_
#define LLM_CORE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LLM_STATUS_CONCAT_INNER_(a, b) a##b
#define LLM_STATUS_CONCAT_(a, b) LLM_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function
// if it is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status _llm_status = (expr);       \
    if (!_llm_status.ok()) return _llm_status; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on
// error returns its status, otherwise moves the value into `lhs` (which may be
// a declaration such as `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(LLM_STATUS_CONCAT_(_llm_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) return statusor.status();     \
  lhs = std::move(statusor).value()

#endif  // LLM_CORE_UTIL_STATUS_MACROS_H_
