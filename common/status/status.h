#pragma once

// absl::Status helpers (STYLE rule 2). Core code returns absl::Status and
// StatusOr and sees no gRPC: the absl <-> gRPC conversion lives in
// common/grpc/status.h, used only by gRPC adapters, clients and mains.

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status/macros.h"

namespace recstack {

// Prefixes the message with context ("loading u.data: ...") keeping the code.
absl::Status Annotate(const absl::Status& status, std::string_view context);

// True for codes a caller may retry (UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, ABORTED).
bool IsRetryable(const absl::Status& status);

}  // namespace recstack
