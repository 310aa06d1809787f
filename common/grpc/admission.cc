#include "common/grpc/admission.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/overload/call_scope.h"

namespace recstack::grpcutil {

Admission::~Admission() {
  if (permit.has_value()) overload::ReleaseAfterSend(*std::move(permit));
}

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
