#pragma once

// Early-return macros for absl::Status and absl::StatusOr (STYLE rule 2).
// No dependency beyond absl: core code of every service uses them.

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RECSTACK_RETURN_IF_ERROR(expr)       \
  do {                                       \
    ::absl::Status _rs_status = (expr);      \
    if (!_rs_status.ok()) return _rs_status; \
  } while (0)

#define RECSTACK_CONCAT_INNER_(a, b) a##b
#define RECSTACK_CONCAT_(a, b) RECSTACK_CONCAT_INNER_(a, b)

// `RECSTACK_ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value of a
// StatusOr or returns its status.
#define RECSTACK_ASSIGN_OR_RETURN(lhs, expr) \
  RECSTACK_ASSIGN_OR_RETURN_IMPL_(RECSTACK_CONCAT_(_rs_statusor_, __LINE__), lhs, expr)
#define RECSTACK_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return std::move(tmp).status();        \
  lhs = std::move(tmp).value()
