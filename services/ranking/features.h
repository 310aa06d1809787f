#pragma once

// Features of (user, candidate) pairs, assembled in one place (DESIGN §6)
// from the request and Redis, with one pipelined round trip per request
// (item metadata comes from an in-process cache with a TTL; only its misses
// are read, in the same pipeline, and the user's recent items' categories
// need a second trip only when they are not cached):
//   retrieval_score     the candidate's score from retrieval, divided by the
//                       best score of its source in this request (0-1)
//   source_mf, source_item2item, source_trending   one-hot retrieval source
//   retrieval_position  0-based position in retrieval's answer
//   popularity          log(1 + decayed weighted count of rs:trend), see
//                       common/redis/popularity.h
//   item_age_days       days since the item's created_at (0 when unknown)
//   user_activity       log(1 + length of the user's history)
//   category_overlap    share of the item's categories among the user's
//                       recent items' categories (0-1)

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cache/lru.h"
#include "common/clock/clock.h"
#include "common/rank/features.h"
#include "common/redis/client.h"

namespace recstack::ranking {

struct CandidateIn {
  std::string item_id;
  double retrieval_score = 0;
  std::string source;
  int position = 0;
};

// What ranking needs of an item's metadata (rs:item:{item}).
struct ItemMeta {
  bool known = false;  // false: no rs:item hash (cached too, for the TTL)
  std::vector<std::string> categories;
  int64_t created_at_ms = 0;
};

struct FeatureOptions {
  int recent_items = 20;             // the user's items whose categories count
  size_t item_cache_size = 200'000;  // items whose metadata is cached
  std::chrono::milliseconds item_cache_ttl{60'000};
  // A candidate's trending count is cached this long (a 24 h half-life
  // moves it by 0.003% a second, and the events of 5 s are a small share of
  // any count that matters for ranking); only the misses are asked, one
  // ZMSCORE per event partition. Read fresh every request, the counts cost
  // Redis 314 us per Rank on a 100k-item catalogue: a ZMSCORE reply of 100
  // doubles, each printed with %.17g (INFO commandstats, 2026-11-30).
  std::chrono::milliseconds popularity_ttl{5000};
};

// What Assemble reads for one request: every input of the features, so
// that the features themselves are computed without I/O.
struct FeatureInputs {
  int64_t now_ms = 0;
  double history_len = 0;          // entries of the user's history
  std::vector<ItemMeta> recent;    // the user's recent items (recent_items of them)
  std::vector<ItemMeta> items;     // one per candidate
  std::vector<double> popularity;  // one per candidate: decayed trending count
};

// The features of `cands` (the formulas at the top of this file).
std::vector<FeatureRow> ComputeFeatures(const std::vector<CandidateIn>& cands,
                                        const FeatureInputs& in);

class FeatureAssembler {
 public:
  FeatureAssembler(redis::Pool& pool, redis::Keyspace keys, const Clock& clock,
                   FeatureOptions options = {});
  absl::StatusOr<std::vector<FeatureRow>> Assemble(std::string_view user,
                                                   const std::vector<CandidateIn>& cands);

  const cache::LruCache<ItemMeta>& item_cache() const { return items_; }
  // Redis round trips of the last Assemble on this thread (tests).
  static int last_round_trips();

 private:
  redis::Pool& pool_;
  redis::Keyspace keys_;
  const Clock& clock_;
  FeatureOptions options_;
  cache::LruCache<ItemMeta> items_;
  cache::LruCache<double> popularity_;  // used when keys_.partitions() > 1
};

}  // namespace recstack::ranking
