#pragma once

// A ranking node: the ranking core wired to Redis (the learned rankers'
// models, the experiments, item vectors for MMR, the Redis feature source)
// with its flags and metrics, behind a RankingHandler. recstack-ranking
// serves one over gRPC; the gateway runs one in its own process with
// --embed ranking (docs/serving.md).

#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cache/refreshed.h"
#include "common/clock/clock.h"
#include "common/model/item_vectors.h"
#include "common/model/model_store.h"
#include "common/rank/experiments.h"
#include "common/rank/learned.h"
#include "common/ranking/engine.h"
#include "common/ranking/features.h"
#include "common/ranking/handler.h"
#include "common/ranking/item_updates.h"
#include "common/ranking/redis_feature_source.h"
#include "common/redis/client.h"
#include "common/redis/keyspace.h"

namespace recstack::ranking {

struct NodeOptions {
  std::string experiments_file;  // empty: one experiment of default_ranker
  std::string default_ranker = "linear";
  double mmr_lambda = 0.7;
};

// Registers ranking's own flags on `app` (--experiments, --default-ranker,
// --mmr-lambda), bound to `opts`.
void AddFlags(CLI::App& app, NodeOptions* opts);

class Node {
 public:
  // Pools to `redis`; starts following the learned rankers' models (an
  // experiment may only name a ranker that can serve), then reads the
  // experiments. InvalidArgument naming the flag for an unreadable or
  // invalid experiments file, an unknown default ranker or a bad lambda.
  static absl::StatusOr<std::unique_ptr<Node>> Create(const redis::Options& redis, int pool_size,
                                                      const redis::Keyspace& keys,
                                                      const NodeOptions& opts,
                                                      prometheus::Registry& registry);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Follows the item vectors (MMR) and the items' announced changes (its
  // metadata cache), and refreshes stale trending counts in the background.
  // Stop stops everything Create and Start started.
  void Start();
  void Stop();
  RankingHandler& handler() { return *handler_; }

 private:
  Node(const redis::Options& redis, int pool_size, const redis::Keyspace& keys);

  redis::Pool pool_, load_pool_;
  model::ModelStore load_store_;
  RankerModels ranker_models_;
  std::unique_ptr<model::ItemVectorsHolder> vectors_;
  SystemClock clock_;
  RedisFeatureSource feature_source_;
  FeatureAssembler features_;
  ItemUpdatesFollower item_updates_;
  // Reads again, every second, the trending counts requests found stale
  // (FeatureOptions::popularity_in_background); its value is how many the
  // last pass read.
  cache::Refreshed<size_t> popularity_refresh_;
  std::unique_ptr<RankingEngine> engine_;
  std::unique_ptr<RankingMetrics> metrics_;
  std::unique_ptr<RankingHandler> handler_;
  bool stopped_ = false;
};

}  // namespace recstack::ranking
