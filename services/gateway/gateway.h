#pragma once

// The Recommend orchestration (DESIGN §7): retrieval, then ranking, under a
// deadline budget per stage and in total, never past the caller's deadline.
// If ranking fails, is shed or is late the answer is retrieval's order; if
// retrieval fails (or the gateway itself is at its concurrency limit) it is
// the trending list the gateway keeps in memory, refreshed in the
// background, so a fallback costs no remote call; the response then says
// `degraded` and why. UNAVAILABLE only when there is nothing at all to
// serve. Item metadata (titles) comes from an in-memory cache with a TTL;
// only its misses are asked of ingestion. Impressions go to ingestion on a
// background thread through a bounded queue, one IMPRESSION event per answer
// with every item shown: logging never delays or fails a response, and what
// does not fit is dropped and counted. A batch goes when it is full or has
// waited `impression_linger`.
//
// The experiments view (the /experiments page) asks ranking which
// experiments it runs and the training service for their readouts, each
// call bounded by its own budget and the caller's deadline; without a
// training backend those answers are UNAVAILABLE. The pages also ask
// retrieval for users the served model knows (the journey page opens on
// one) and the training service for the model versions (/models).
//
// The core sees no gRPC: it calls the other services through the small
// interfaces of backends.h. gateway_service.h serves it over gRPC (and
// implements those interfaces with gRPC stubs); http_server.h serves it
// over HTTP/JSON.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "common/cache/lru.h"
#include "common/cache/refreshed.h"
#include "common/metrics/metrics.h"
#include "common/overload/limiter.h"
#include "common/rank/features.h"
#include "common/stats/experiment.h"
#include "recstack/v1/gateway.pb.h"
#include "services/gateway/backends.h"

namespace recstack::gateway {

struct GatewayOptions {
  std::chrono::milliseconds retrieval_budget{80};
  std::chrono::milliseconds ranking_budget{40};
  std::chrono::milliseconds metadata_budget{20};
  std::chrono::milliseconds total_budget{150};
  // Candidates asked of retrieval: clamp(5k, min_candidates, max_candidates).
  int min_candidates = 50;
  int max_candidates = 500;
  // The user's history items retrieval hands on to ranking (with its
  // length), so ranking reads no history of its own: what category_overlap
  // counts. 0: ranking reads it.
  int history_items = ranking::kRecentItems;
  // Impressions: one IMPRESSION event per answer (per 50 items of a longer
  // one, events::kMaxShown); both bounds count the items shown.
  size_t impression_queue = 10000;  // items waiting to be sent
  int impression_batch = 500;       // items per IngestEvents, in whole answers
  // A batch is sent once it is full or its oldest event has waited this
  // long: one IngestEvents per batch, not one per answer.
  std::chrono::milliseconds impression_linger{50};
  bool log_impressions = true;
  // Exploration (docs/experiments.md): with this probability a ranked
  // answer is shown in a uniformly random order, so every shown item has
  // the logging propensity (1 - rate) [at its ranked position] + rate / n,
  // logged with its impression for off-policy estimates. 0 = off.
  double explore_rate = 0;
  // The in-memory fallback: this many trending items, refreshed this often.
  int fallback_items = 500;
  std::chrono::milliseconds fallback_refresh{2000};
  size_t item_cache_size = 100'000;
  std::chrono::milliseconds item_cache_ttl{300'000};
  // Each cached item lives between (1 - this) and 1 times the ttl, so a
  // cache filled in one burst does not expire in one (cache::LruCache).
  double item_cache_ttl_jitter = 0.5;
  // The experiments view: ranking's list of experiments, and one readout
  // (the training service reads the event log for it).
  std::chrono::milliseconds experiments_budget{2000};
  std::chrono::milliseconds report_budget{5000};
  // The pages' lookups: users of the served model (retrieval scans Redis
  // once per version), the model versions (training reads their metas).
  std::chrono::milliseconds lookup_budget{2000};
};

struct GatewayMetrics {
  explicit GatewayMetrics(prometheus::Registry& registry);
  prometheus::Counter* degraded_retrieval;
  prometheus::Counter* degraded_ranking;
  prometheus::Counter* degraded_overload;  // the gateway's own limit: fallback at once
  prometheus::Counter* degraded_ranker;    // a learned ranker without a model: linear served
  prometheus::Counter* explored;
  prometheus::Counter* fallback_refresh_failed;
  prometheus::Histogram* stage_latency[3];  // retrieval, ranking, metadata
  prometheus::Counter* impressions_sent;
  prometheus::Counter* impressions_dropped;
  prometheus::Counter* impressions_failed;
  prometheus::Family<prometheus::Counter>* http_family;
  std::map<std::string, prometheus::Counter*> http;  // by status class, made at start-up
  metrics::RpcMetrics rpc;
};

class Gateway {
 public:
  // `training` may be null: the experiments calls are then UNAVAILABLE.
  Gateway(std::unique_ptr<RetrievalBackend> retrieval, std::unique_ptr<RankingBackend> ranking,
          std::unique_ptr<IngestionBackend> ingestion, std::unique_ptr<TrainingBackend> training,
          GatewayOptions options, GatewayMetrics& metrics,
          overload::ConcurrencyLimiter* limiter = nullptr);
  ~Gateway();

  // Fetches the fallback list once (and then every fallback_refresh). A
  // failure is not fatal: the list fills on a later refresh.
  absl::Status StartFallbackRefresh();
  // The fallback list as it is now (tests).
  std::shared_ptr<const std::vector<v1::ScoredItem>> fallback() const { return trending_.Get(); }

  // `deadline` is the caller's (gRPC incoming or HTTP arrival + total budget).
  absl::StatusOr<v1::RecommendResponse> Recommend(const v1::RecommendRequest& req,
                                                  std::chrono::system_clock::time_point deadline);
  absl::StatusOr<v1::IngestEventsResponse> IngestEvents(
      const v1::IngestEventsRequest& req, std::chrono::system_clock::time_point deadline);
  absl::StatusOr<v1::SimilarItemsResponse> SimilarItems(
      const v1::SimilarItemsRequest& req, std::chrono::system_clock::time_point deadline);
  // The experiments ranking runs, in its order (ranking's ListRankers).
  absl::StatusOr<std::vector<v1::Experiment>> Experiments(
      std::chrono::system_clock::time_point deadline);
  // One experiment's readout (the training service's ExperimentReport, the
  // first variant as control, every logged impression). InvalidArgument for
  // an empty name, NotFound for an experiment the training service does
  // not know, Unavailable without a training backend.
  absl::StatusOr<stats::Readout> ExperimentReport(const std::string& name,
                                                  std::chrono::system_clock::time_point deadline);
  // Up to n (1-100) users the served factor model knows (retrieval's
  // SampleUsers): FailedPrecondition before a model is served.
  absl::StatusOr<v1::SampleUsersResponse> SampleUsers(
      int n, std::chrono::system_clock::time_point deadline);
  // The kept model versions with their metrics and which one each slot
  // serves (the training service's ListModels); Unavailable without a
  // training backend.
  absl::StatusOr<v1::ListModelsResponse> Models(std::chrono::system_clock::time_point deadline);
  // Both peers SERVING is not required: the gateway degrades instead.
  const GatewayOptions& options() const { return options_; }
  GatewayMetrics& metrics() { return metrics_; }

 private:
  // One IMPRESSION per shown item, with what the ranker saw (features,
  // ranker, experiment) and `propensity[i]` of showing item i there.
  void EnqueueImpressions(const v1::RecommendResponse& resp, const std::string& ranker_version,
                          const std::vector<double>& propensity, bool explored);
  // With probability explore_rate shuffles resp's items; the propensities
  // of the shown order. Returns whether it shuffled.
  bool Explore(v1::RecommendResponse& resp, std::vector<double>* propensity);
  // Fills `resp` from the in-memory trending list; false if it is empty.
  bool ServeFallback(int k, v1::RecommendResponse& resp) const;
  void AddItemMetadata(v1::RecommendResponse& resp, std::chrono::system_clock::time_point deadline);
  void SendImpressions();

  std::unique_ptr<RetrievalBackend> retrieval_;
  std::unique_ptr<RankingBackend> ranking_;
  std::unique_ptr<IngestionBackend> ingestion_;
  std::unique_ptr<TrainingBackend> training_;  // may be null
  GatewayOptions options_;
  GatewayMetrics& metrics_;
  overload::ConcurrencyLimiter* limiter_;
  cache::Refreshed<std::vector<v1::ScoredItem>> trending_;
  cache::LruCache<v1::Item> items_;  // an empty item_id: not known to ingestion
  std::mutex rng_mu_;
  std::mt19937_64 rng_;

  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::deque<v1::Event> queue_;  // one event per answer (or 50 of its items)
  size_t queued_items_ = 0;      // the items shown in queue_
  std::chrono::steady_clock::time_point oldest_queued_;  // of queue_.front()'s answer
  bool stopping_ = false;
  std::thread sender_;
};

}  // namespace recstack::gateway
