#include "common/grpc/admission.h"

#include "absl/strings/str_cat.h"

namespace recstack::grpcutil {

Admission Admit(overload::ConcurrencyLimiter* limiter, const grpc::ServerContext& ctx) {
  Admission a;
  if (limiter == nullptr) return a;
  overload::ConcurrencyLimiter::Verdict why;
  a.permit = limiter->TryAcquire(ctx.deadline(), &why);
  if (a.permit.has_value()) return a;
  if (why == overload::ConcurrencyLimiter::Verdict::kDeadlinePassed) {
    a.status = grpc::Status(
        grpc::StatusCode::DEADLINE_EXCEEDED,
        absl::StrCat(limiter->service(), ": the deadline passed before the request was served"));
  } else {
    a.status = grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat(limiter->service(), " is overloaded: shed at ", limiter->inflight(),
                     " requests in flight (limit ", limiter->limit(), ")"));
  }
  return a;
}

}  // namespace recstack::grpcutil
