#pragma once

// Candidate generation (DESIGN §5): three sources merged with quotas.
//   mf         the user's vector . item factors (from Redis, an LRU cache
//              keyed by (version, user); a user the model does not know but
//              with history is folded in: one ALS user step against the
//              item factors of that history);
//   item2item  cosine neighbours of the user's most recent items;
//   trending   the weighted counts of the last hours (ingestion's rs:pop).
// Seen items (the user's history) and the request's exclude list never
// come back. Each candidate keeps its source and score.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/redis/client.h"
#include "services/retrieval/model_holder.h"

namespace recstack::retrieval {

constexpr int kMaxK = 1000;

class EaseModelHolder;  // ease_source.h

struct RetrieverOptions {
  double mf_share = 0.6, item2item_share = 0.25, trending_share = 0.15;
  // The ease source (item-item EASE, ease_source.h): its quota, and the most
  // recent history items it sums rows of.
  double ease_share = 0.0;
  int ease_history = 100;
  int history_for_seen = 500;     // history entries filtered out
  int history_for_fold_in = 50;   // most recent items a fold-in uses
  int item2item_seeds = 5;        // most recent items whose neighbours are asked
  size_t user_cache_size = 100'000;
  // Items whose neighbour lists are kept (each kCachedNeighbours long).
  size_t neighbour_cache_size = 20'000;
  int trending_window_hours = 24;
  std::chrono::milliseconds trending_cache_ttl{5000};
};

struct Candidate {
  std::string item_id;
  double score = 0;
  std::string source;
  std::string because_item_id;  // item2item and ease
};

struct SourceReport {
  std::string source;
  int candidates = 0, kept = 0;
  int64_t latency_us = 0;
  std::string error;
};

struct RetrieveQuery {
  std::string user_id;
  int k = 10;
  std::vector<std::string> sources;  // empty = all
  std::vector<std::string> exclude;
  std::vector<std::string> recent;   // just-interacted items not yet in Redis
};

struct RetrieveResult {
  std::vector<Candidate> candidates;
  std::string model_version;
  std::vector<SourceReport> sources;
  std::string user_vector = "none";  // "model", "folded_in", "none"
};

// A bounded LRU map from (version, user) to a user vector (empty vector =
// the model does not know the user). Thread-safe.
// A bounded LRU map, safe to share between request threads.
template <typename V>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity) {}
  std::optional<V> Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) {
      misses_++;
      return std::nullopt;
    }
    hits_++;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  void Put(const std::string& key, V value) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      it->second->second = std::move(value);
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    lru_.emplace_front(key, std::move(value));
    map_[key] = lru_.begin();
    while (lru_.size() > capacity_) {
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<std::string, V>> lru_;
  std::unordered_map<std::string, typename decltype(lru_)::iterator> map_;
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

// User vectors by (model version, user).
using UserVectorCache = LruCache<std::vector<float>>;
// An item's best cosine neighbours by (model version, item), unfiltered
// and longer than any one request needs (see Retriever::NeighboursOfEach).
using NeighbourCache = LruCache<std::shared_ptr<const std::vector<math::ScoredId>>>;

// The ALS user step for a user whose items are `items` (indices into the
// model), each with preference 1 and confidence 1 + alpha.
std::vector<float> FoldIn(const ServingModel& m, const std::vector<int32_t>& items);

class Retriever {
 public:
  Retriever(ModelHolder& holder, model::ModelStore& store, redis::Pool& pool, redis::Keyspace keys,
            const Clock& clock, RetrieverOptions options);

  absl::StatusOr<RetrieveResult> Retrieve(const RetrieveQuery& query);
  // Cosine neighbours of one item (source "ease": its heaviest EASE
  // weights); NOT_FOUND when the model lacks it.
  absl::StatusOr<RetrieveResult> Similar(const std::string& item_id, int k,
                                         const std::string& source = "");
  // Serves the `ease` source from this holder (optional; not owned).
  void set_ease(EaseModelHolder* ease) { ease_ = ease; }

  const UserVectorCache& cache() const { return cache_; }
  const NeighbourCache& neighbour_cache() const { return neighbours_; }
  // Length of a cached neighbour list: a request's k best survivors of its
  // filter are exact whenever at least k of these survive.
  static constexpr int kCachedNeighbours = 200;

  // Cosine neighbours of `item` (of each of `items`), best first, ties by
  // index, without the item itself and without ids `skip` accepts. Exact:
  // cached lists are used only when enough of them survive `skip`.
  std::vector<Candidate> Neighbours(const ServingModel& m, int32_t item, int k,
                                    const std::function<bool(int32_t)>& skip) const;
  // Neighbours of several seeds at once (one pass over the factors).
  std::vector<std::vector<Candidate>> NeighboursOfEach(const ServingModel& m,
                                                       const std::vector<int32_t>& items, int k,
                                                       const std::function<bool(int32_t)>& skip) const;

 private:
  absl::StatusOr<std::vector<Candidate>> Trending(int k);


  ModelHolder& holder_;
  model::ModelStore& store_;
  redis::Pool& pool_;
  redis::Keyspace keys_;
  const Clock& clock_;
  RetrieverOptions options_;
  UserVectorCache cache_;
  mutable NeighbourCache neighbours_;
  std::mutex trending_mu_;
  std::vector<Candidate> trending_cache_;
  int64_t trending_at_ms_ = -1;
  EaseModelHolder* ease_ = nullptr;
};

absl::Status ValidateItemOrUserId(std::string_view field, std::string_view id);

}  // namespace recstack::retrieval
