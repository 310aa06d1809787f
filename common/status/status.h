#pragma once

// absl::Status helpers and the one place where absl and gRPC statuses are
// converted (STYLE rule 2). Core code returns absl::Status/StatusOr; only the
// *_service.cc files call ToGrpc/FromGrpc.

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recstack {

// absl -> gRPC. The numeric codes are the same by design; the message is kept.
grpc::Status ToGrpc(const absl::Status& status);

// gRPC -> absl, for clients that call other services.
absl::Status FromGrpc(const grpc::Status& status);

// Prefixes the message with context ("loading u.data: ...") keeping the code.
absl::Status Annotate(const absl::Status& status, std::string_view context);

// True for codes a caller may retry (UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, ABORTED).
bool IsRetryable(const absl::Status& status);

}  // namespace recstack

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RECSTACK_RETURN_IF_ERROR(expr)          \
  do {                                          \
    ::absl::Status _rs_status = (expr);         \
    if (!_rs_status.ok()) return _rs_status;    \
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
