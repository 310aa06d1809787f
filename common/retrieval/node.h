#pragma once

// A retrieval node: the retrieval core wired to Redis (the model holders,
// the Redis source, the retriever) with its flags and metrics, behind a
// RetrievalHandler. recstack-retrieval serves one over gRPC; the gateway
// runs one in its own process with --embed retrieval (docs/serving.md).
//
//   retrieval::NodeOptions opts;
//   retrieval::AddFlags(app, &opts);            // --hnsw-*, --mf-share, ...
//   ... parse; retrieval::Validate(opts) ...
//   retrieval::Node node(redis, pool_size, keys, opts, registry);
//   node.Start();  ... node.handler().Retrieve(req, &resp) ...  node.Stop();

#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <cstdint>

#include "absl/status/status.h"
#include "common/clock/clock.h"
#include "common/config/config.h"
#include "common/model/model_store.h"
#include "common/redis/client.h"
#include "common/redis/keyspace.h"
#include "common/retrieval/ease_source.h"
#include "common/retrieval/handler.h"
#include "common/retrieval/history_cache.h"
#include "common/retrieval/model_holder.h"
#include "common/retrieval/retrieval_source.h"
#include "common/retrieval/retriever.h"

namespace recstack::retrieval {

struct NodeOptions {
  HolderOptions holder;
  RetrieverOptions retriever;
  int64_t user_cache_size = 100'000;  // into retriever.user_cache_size once valid
  // Users' histories kept until announced changed (history_cache.h); 0: off.
  int64_t history_cache_size = 20'000;
};

// Registers retrieval's own flags on `app`, bound to `opts`.
void AddFlags(CLI::App& app, NodeOptions* opts);
// InvalidArgument naming the flags out of range.
absl::Status Validate(const NodeOptions& opts);

class Node {
 public:
  // Pools of `pool_size` connections to `redis` (and two with a long command
  // timeout for model loads); nothing runs until Start. `opts` must be valid.
  Node(const redis::Options& redis, int pool_size, const redis::Keyspace& keys, NodeOptions opts,
       prometheus::Registry& registry);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Loads the current models and keeps following them; the trending list's
  // refresher; the history announcements' subscriber. Stop joins them (the
  // destructor stops too).
  void Start();
  void Stop();
  RetrievalHandler& handler() { return handler_; }

 private:
  redis::Pool pool_, load_pool_;
  model::ModelStore store_, load_store_;
  SystemClock clock_;
  RetrievalMetrics metrics_;
  ModelHolder holder_;
  EaseModelHolder ease_;
  RedisRetrievalSource source_;
  HistoryCache history_cache_;
  HistoryCachedSource cached_source_;
  HistoryUpdatesFollower history_updates_;
  Retriever retriever_;
  RetrievalHandler handler_;
  bool history_cache_on_ = false;
  bool started_ = false;
};

}  // namespace recstack::retrieval
