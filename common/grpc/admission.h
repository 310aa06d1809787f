#pragma once

// Admission at the top of a gRPC handler (STYLE rule 16): a permit from the
// service's concurrency limiter, or the status to answer at once:
// RESOURCE_EXHAUSTED when the service is at its limit, DEADLINE_EXCEEDED when
// the caller's deadline passed before the handler ran.
//
//   auto admission = grpcutil::Admit(limiter_, *ctx);
//   if (!admission.permit) { timer.set_code(...); return admission.status; }

#include <grpcpp/grpcpp.h>

#include <optional>

#include "common/overload/limiter.h"

namespace recstack::grpcutil {

struct Admission {
  std::optional<overload::ConcurrencyLimiter::Permit> permit;
  grpc::Status status;  // OK when admitted
};

// `limiter` may be null: everything is admitted (without a permit, so the
// result's `admitted()` is what callers test).
Admission Admit(overload::ConcurrencyLimiter* limiter, const grpc::ServerContext& ctx);

inline bool Admitted(const Admission& a) { return a.status.ok(); }

}  // namespace recstack::grpcutil
