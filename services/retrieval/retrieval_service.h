#pragma once

// recstack.v1.RetrievalService over Retriever: proto <-> domain, status
// mapping, metrics.

#include <prometheus/registry.h>

#include "common/metrics/metrics.h"
#include "common/overload/limiter.h"
#include "recstack/v1/retrieval.grpc.pb.h"
#include "services/retrieval/retriever.h"

namespace recstack::retrieval {

struct RetrievalMetrics {
  explicit RetrievalMetrics(prometheus::Registry& registry);
  // Per source: mf, item2item, trending, ease.
  prometheus::Histogram* source_latency[4];
  prometheus::Histogram* source_candidates[4];
  prometheus::Counter* source_errors[4];
  prometheus::Gauge* cache_hits;
  prometheus::Gauge* cache_misses;
  prometheus::Gauge* model_version;
  prometheus::Gauge* model_items;
  prometheus::Gauge* index_build_seconds;
  prometheus::Gauge* hnsw_recall;
  metrics::RpcMetrics rpc;
  // Called when a model (or its HNSW index) is ready.
  void OnModel(const ServingModel& m);
};

class RetrievalServiceImpl final : public v1::RetrievalService::Service {
 public:
  // `limiter` (may be null) bounds the requests in flight.
  RetrievalServiceImpl(Retriever& retriever, RetrievalMetrics& metrics,
                       overload::ConcurrencyLimiter* limiter = nullptr);
  grpc::Status Retrieve(grpc::ServerContext*, const v1::RetrieveRequest*,
                        v1::RetrieveResponse*) override;
  grpc::Status SimilarItems(grpc::ServerContext*, const v1::SimilarItemsRequest*,
                            v1::SimilarItemsResponse*) override;
  grpc::Status SampleUsers(grpc::ServerContext*, const v1::SampleUsersRequest*,
                           v1::SampleUsersResponse*) override;

 private:
  Retriever& retriever_;
  RetrievalMetrics& metrics_;
  overload::ConcurrencyLimiter* limiter_;
};

}  // namespace recstack::retrieval
