#include "common/retrieval/node.h"

#include <string>

namespace recstack::retrieval {

void AddFlags(CLI::App& app, NodeOptions* opts) {
  HolderOptions& hold = opts->holder;
  RetrieverOptions& r = opts->retriever;
  app.add_option("--hnsw-min-items", hold.hnsw_min_items, "catalogues this large get an HNSW index")
      ->envname(config::EnvName("hnsw-min-items"))
      ->capture_default_str();
  app.add_option("--hnsw-m", hold.hnsw.m, "HNSW M")->capture_default_str();
  app.add_option("--hnsw-ef-construction", hold.hnsw.ef_construction, "HNSW efConstruction")
      ->capture_default_str();
  app.add_option("--hnsw-target-recall", hold.hnsw_target_recall,
                 "ef is raised until recall@10 reaches this")
      ->capture_default_str();
  app.add_flag("--exact-int8", hold.exact_int8,
               "exact search through an int8 copy of the factors (same results, 0.28x more memory "
               "at d=64)")
      ->envname(config::EnvName("exact-int8"));
  app.add_option("--user-cache-size", opts->user_cache_size, "user vectors cached")
      ->capture_default_str();
  app.add_option("--history-cache-size", opts->history_cache_size,
                 "users' histories kept in memory until ingestion announces they changed "
                 "(0: read every Recommend's from Redis)")
      ->envname(config::EnvName("history-cache-size"))
      ->capture_default_str();
  app.add_option("--mf-share", r.mf_share, "quota of mf candidates")->capture_default_str();
  app.add_option("--item2item-share", r.item2item_share, "quota of item2item candidates")
      ->capture_default_str();
  app.add_option("--trending-share", r.trending_share, "quota of trending candidates")
      ->capture_default_str();
  app.add_option("--ease-share", r.ease_share, "quota of ease (item-item EASE) candidates")
      ->envname(config::EnvName("ease-share"))
      ->capture_default_str();
  app.add_option("--ease-history", r.ease_history, "most recent history items the ease source sums")
      ->capture_default_str();
}

absl::Status Validate(const NodeOptions& opts) {
  const HolderOptions& hold = opts.holder;
  const RetrieverOptions& r = opts.retriever;
  if (hold.hnsw_min_items < 1 || hold.hnsw.m < 4 || hold.hnsw.ef_construction < 8 ||
      opts.user_cache_size < 1 || opts.history_cache_size < 0 || r.ease_history < 1 ||
      r.ease_share < 0 || !(hold.hnsw_target_recall > 0 && hold.hnsw_target_recall <= 1)) {
    return absl::InvalidArgumentError(
        "--hnsw-min-items >= 1, --hnsw-m >= 4, --hnsw-ef-construction >= 8, "
        "--user-cache-size >= 1, --history-cache-size >= 0, 0 < --hnsw-target-recall <= 1, "
        "--ease-history >= 1, "
        "--ease-share >= 0");
  }
  return absl::OkStatus();
}

namespace {
RetrieverOptions WithCacheSize(RetrieverOptions r, int64_t user_cache_size) {
  r.user_cache_size = static_cast<size_t>(user_cache_size);
  return r;
}
}  // namespace

Node::Node(const redis::Options& redis, int pool_size, const redis::Keyspace& keys,
           NodeOptions opts, prometheus::Registry& registry)
    : pool_(redis, pool_size), load_pool_(model::ModelLoadOptions(redis), 2), store_(pool_, keys),
      load_store_(load_pool_, keys), metrics_(registry),
      holder_(load_store_, redis, keys, opts.holder), ease_(load_store_, redis, keys),
      source_(pool_, store_, keys),
      history_cache_({.capacity = static_cast<size_t>(opts.history_cache_size)}),
      cached_source_(source_, history_cache_), history_updates_(redis, keys, history_cache_),
      retriever_(holder_, cached_source_, clock_,
                 WithCacheSize(opts.retriever, opts.user_cache_size)),
      handler_(retriever_, metrics_) {
  holder_.set_listener([this](const ServingModel& m) { metrics_.OnModel(m); });
  retriever_.set_ease(&ease_);
  handler_.set_history_cache(&history_cache_);
  history_cache_on_ = opts.history_cache_size > 0;
}

Node::~Node() { Stop(); }

void Node::Start() {
  if (started_) return;
  started_ = true;
  holder_.Start();
  retriever_.Start();
  ease_.Start();
  if (history_cache_on_) history_updates_.Start();
}

void Node::Stop() {
  if (!started_) return;
  started_ = false;
  retriever_.Stop();
  ease_.Stop();
  holder_.Stop();
  history_updates_.Stop();
}

}  // namespace recstack::retrieval
