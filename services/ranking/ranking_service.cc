#include "services/ranking/ranking_service.h"

#include "common/grpc/admission.h"
#include "common/grpc/status.h"

namespace recstack::ranking {

RankingServiceImpl::RankingServiceImpl(RankingHandler& handler,
                                       overload::ConcurrencyLimiter* limiter)
    : handler_(handler), limiter_(limiter) {}

grpc::Status RankingServiceImpl::Rank(grpc::ServerContext* ctx, const v1::RankRequest* req,
                                      v1::RankResponse* resp) {
  auto admission = grpcutil::Admit(limiter_, *ctx);
  if (!grpcutil::Admitted(admission)) {
    handler_.metrics().rpc.Record("Rank", FromGrpc(admission.status).code(), 0);
    return admission.status;
  }
  return ToGrpc(handler_.Rank(*req, resp));
}

grpc::Status RankingServiceImpl::ListRankers(grpc::ServerContext*,
                                             const v1::ListRankersRequest* req,
                                             v1::ListRankersResponse* resp) {
  return ToGrpc(handler_.ListRankers(*req, resp));
}

}  // namespace recstack::ranking
