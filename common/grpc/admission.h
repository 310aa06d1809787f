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
#include <utility>

#include "common/overload/limiter.h"

namespace recstack::grpcutil {

// The permit is held until the call's answer has been sent
// (overload::ReleaseAfterSend): the limiter counts and times what the caller
// waits for, the send included.
struct Admission {
  Admission() = default;
  Admission(Admission&& other) noexcept
      : permit(std::move(other.permit)), status(std::move(other.status)) {
    other.permit.reset();
  }
  Admission& operator=(Admission&&) = delete;
  ~Admission();
  std::optional<overload::ConcurrencyLimiter::Permit> permit;
  grpc::Status status;  // OK when admitted
};

// `limiter` may be null: everything is admitted (without a permit, so the
// result's `admitted()` is what callers test).
Admission Admit(overload::ConcurrencyLimiter* limiter, const grpc::ServerContext& ctx);

inline bool Admitted(const Admission& a) { return a.status.ok(); }

}  // namespace recstack::grpcutil
