#pragma once

// recstack.v1.RankingService: admission (the concurrency limit), then
// common/ranking/handler.h's proto-in, proto-out call; status mapping.

#include "common/overload/limiter.h"
#include "common/ranking/handler.h"
#include "recstack/v1/ranking.grpc.pb.h"

namespace recstack::ranking {

class RankingServiceImpl final : public v1::RankingService::Service {
 public:
  // `limiter` (may be null) bounds the requests in flight.
  RankingServiceImpl(RankingHandler& handler, overload::ConcurrencyLimiter* limiter = nullptr);
  grpc::Status Rank(grpc::ServerContext*, const v1::RankRequest*, v1::RankResponse*) override;
  grpc::Status ListRankers(grpc::ServerContext*, const v1::ListRankersRequest*,
                           v1::ListRankersResponse*) override;

 private:
  RankingHandler& handler_;
  overload::ConcurrencyLimiter* limiter_;
};

}  // namespace recstack::ranking
