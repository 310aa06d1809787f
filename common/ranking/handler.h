#pragma once

// The ranking API over a RankingEngine, without gRPC: proto in, proto out,
// absl status with gRPC's codes, and the ranking metrics. The ranking
// service's gRPC adapter calls it after admission; the gateway calls it in
// its own process when it embeds ranking (docs/serving.md).

#include <prometheus/registry.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/metrics/metrics.h"
#include "common/ranking/engine.h"
#include "recstack/v1/ranking.pb.h"

namespace recstack::ranking {

struct RankingMetrics {
  RankingMetrics(prometheus::Registry& registry, const std::vector<Experiment>& experiments);
  // Requests per (experiment, variant); children made at start-up.
  std::map<std::string, prometheus::Counter*> variant_requests;
  prometheus::Counter* override_requests;
  prometheus::Counter* fallbacks;  // learned ranker without a model: linear served
  prometheus::Histogram* candidates;
  // Calls by method and code (service "ranking"), whoever makes them.
  metrics::RpcMetrics rpc;
};

class RankingHandler {
 public:
  RankingHandler(RankingEngine& engine, RankingMetrics& metrics);
  // Each records its call in metrics().rpc; `resp` is filled only on OK.
  absl::Status Rank(const v1::RankRequest& req, v1::RankResponse* resp);
  absl::Status ListRankers(const v1::ListRankersRequest& req, v1::ListRankersResponse* resp);
  RankingMetrics& metrics() { return metrics_; }

 private:
  RankingEngine& engine_;
  RankingMetrics& metrics_;
};

}  // namespace recstack::ranking
