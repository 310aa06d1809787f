#pragma once

// The retrieval API over a Retriever, without gRPC: proto in, proto out,
// absl status with gRPC's codes, and the retrieval metrics. The retrieval
// service's gRPC adapter calls it after admission; the gateway calls it in
// its own process when it embeds retrieval (docs/serving.md).

#include <prometheus/registry.h>

#include "absl/status/status.h"
#include "common/metrics/metrics.h"
#include "common/retrieval/history_cache.h"
#include "common/retrieval/retriever.h"
#include "recstack/v1/retrieval.pb.h"

namespace recstack::retrieval {

struct RetrievalMetrics {
  explicit RetrievalMetrics(prometheus::Registry& registry);
  // Per source: mf, item2item, trending, ease.
  prometheus::Histogram* source_latency[4];
  prometheus::Histogram* source_candidates[4];
  prometheus::Counter* source_errors[4];
  prometheus::Gauge* cache_hits;
  prometheus::Gauge* cache_misses;
  // The history cache (history_cache.h): lookups by result, and 1 while it
  // serves (subscribed to the announcements).
  prometheus::Gauge* history_cache_hits;
  prometheus::Gauge* history_cache_misses;
  prometheus::Gauge* history_cache_live;
  prometheus::Gauge* model_version;
  prometheus::Gauge* model_items;
  prometheus::Gauge* index_build_seconds;
  prometheus::Gauge* hnsw_recall;
  // Calls by method and code (service "retrieval"), whoever makes them.
  metrics::RpcMetrics rpc;
  // Called when a model (or its HNSW index) is ready.
  void OnModel(const ServingModel& m);
};

class RetrievalHandler {
 public:
  RetrievalHandler(Retriever& retriever, RetrievalMetrics& metrics);
  // Each records its call in metrics().rpc; `resp` is filled only on OK.
  absl::Status Retrieve(const v1::RetrieveRequest& req, v1::RetrieveResponse* resp);
  absl::Status SimilarItems(const v1::SimilarItemsRequest& req, v1::SimilarItemsResponse* resp);
  absl::Status SampleUsers(const v1::SampleUsersRequest& req, v1::SampleUsersResponse* resp);
  RetrievalMetrics& metrics() { return metrics_; }
  // Reports this cache's lookups in the metrics (the node's; none by default).
  void set_history_cache(const HistoryCache* cache) { history_cache_ = cache; }

 private:
  Retriever& retriever_;
  RetrievalMetrics& metrics_;
  const HistoryCache* history_cache_ = nullptr;
};

}  // namespace recstack::retrieval
