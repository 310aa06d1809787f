#pragma once

// recstack.v1.IngestionService: proto <-> domain, status mapping, metrics.
// Validation and storage live in event_store.h (and common/events/event.h).

#include <memory>
#include <random>

#include <prometheus/registry.h>

#include "common/clock/clock.h"
#include "common/metrics/metrics.h"
#include "common/overload/limiter.h"
#include "recstack/v1/ingestion.grpc.pb.h"
#include "services/ingestion/event_store.h"

namespace recstack::ingestion {

// The service's metrics, declared once (STYLE rule 8).
struct IngestionMetrics {
  explicit IngestionMetrics(prometheus::Registry& registry);
  // [type][outcome]: outcome 0 accepted, 1 duplicate, 2 rejected.
  prometheus::Counter* events[events::kNumEventTypes][3];
  prometheus::Histogram* batch_size;
  prometheus::Histogram* redis_latency;
  prometheus::Counter* redis_errors;
  metrics::RpcMetrics rpc;
};

class IngestionServiceImpl final : public v1::IngestionService::Service {
 public:
  // `limiter` (may be null) bounds the requests in flight.
  IngestionServiceImpl(EventStore& store, const Clock& clock, events::ValidationLimits limits,
                       prometheus::Registry& registry,
                       overload::ConcurrencyLimiter* limiter = nullptr);

  grpc::Status IngestEvents(grpc::ServerContext* ctx, const v1::IngestEventsRequest* req,
                            v1::IngestEventsResponse* resp) override;
  grpc::Status StreamEvents(grpc::ServerContext* ctx,
                            grpc::ServerReader<v1::IngestEventsRequest>* reader,
                            v1::StreamEventsResponse* resp) override;
  grpc::Status UpsertItems(grpc::ServerContext* ctx, const v1::UpsertItemsRequest* req,
                           v1::UpsertItemsResponse* resp) override;
  grpc::Status GetItems(grpc::ServerContext* ctx, const v1::GetItemsRequest* req,
                        v1::GetItemsResponse* resp) override;
  grpc::Status GetUserHistory(grpc::ServerContext* ctx, const v1::GetUserHistoryRequest* req,
                              v1::GetUserHistoryResponse* resp) override;
  grpc::Status GetTrending(grpc::ServerContext* ctx, const v1::GetTrendingRequest* req,
                           v1::GetTrendingResponse* resp) override;

 private:
  // Validates and writes one batch; `index_base` offsets reported indices.
  absl::Status Ingest(const v1::IngestEventsRequest& req, int64_t index_base, int* accepted,
                      int* duplicates, std::vector<v1::RejectedEvent>* rejected);

  EventStore& store_;
  const Clock& clock_;
  events::ValidationLimits limits_;
  IngestionMetrics metrics_;
  overload::ConcurrencyLimiter* limiter_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
};

}  // namespace recstack::ingestion
