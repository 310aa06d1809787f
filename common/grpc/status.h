#pragma once

// The one place where absl and gRPC statuses are converted (STYLE rule 2):
// gRPC adapters (*_service.cc), clients and mains include this; core code
// never does.

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace recstack {

// absl -> gRPC. The numeric codes are the same by design; the message is kept.
grpc::Status ToGrpc(const absl::Status& status);

// gRPC -> absl, for clients that call other services.
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace recstack
