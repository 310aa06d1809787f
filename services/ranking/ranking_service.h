#pragma once

// recstack.v1.RankingService over RankingEngine.

#include <prometheus/registry.h>

#include "common/metrics/metrics.h"
#include "common/overload/limiter.h"
#include "recstack/v1/ranking.grpc.pb.h"
#include "services/ranking/engine.h"

namespace recstack::ranking {

struct RankingMetrics {
  RankingMetrics(prometheus::Registry& registry, const std::vector<Experiment>& experiments);
  // Requests per (experiment, variant); children made at start-up.
  std::map<std::string, prometheus::Counter*> variant_requests;
  prometheus::Counter* override_requests;
  prometheus::Counter* fallbacks;  // learned ranker without a model: linear served
  prometheus::Histogram* candidates;
  metrics::RpcMetrics rpc;
};

class RankingServiceImpl final : public v1::RankingService::Service {
 public:
  // `limiter` (may be null) bounds the requests in flight.
  RankingServiceImpl(RankingEngine& engine, RankingMetrics& metrics,
                     overload::ConcurrencyLimiter* limiter = nullptr);
  grpc::Status Rank(grpc::ServerContext*, const v1::RankRequest*, v1::RankResponse*) override;
  grpc::Status ListRankers(grpc::ServerContext*, const v1::ListRankersRequest*,
                           v1::ListRankersResponse*) override;

 private:
  RankingEngine& engine_;
  RankingMetrics& metrics_;
  overload::ConcurrencyLimiter* limiter_;
};

}  // namespace recstack::ranking
