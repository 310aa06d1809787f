#pragma once

// Features of (user, candidate) pairs, assembled in one place (DESIGN §6)
// from the request and Redis, with one pipelined round trip per request
// (item metadata comes from an in-process cache, kept until the item
// changes (ForgetItems) or for a long TTL; only its misses are read, in the
// same pipeline, and the user's recent items' categories need a second
// trip only when they are not cached):
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
// FeatureAssembler holds the caching and the formulas and reads through the
// small FeatureSource interface; RedisFeatureSource (redis_feature_source.h)
// is the Redis one, and unit tests use an in-memory fake.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/cache/lru.h"
#include "common/clock/clock.h"
#include "common/events/history.h"
#include "common/rank/features.h"

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
  // Not features: the ranked items carry them to the gateway, which then
  // needs no metadata call of its own (docs/serving.md).
  std::string title;
  std::map<std::string, std::string> attributes;
};

struct FeatureOptions {
  int recent_items = kRecentItems;   // the user's items whose categories count
  size_t item_cache_size = 200'000;  // items whose metadata is cached
  // Metadata changes only through ingestion's UpsertItems, which announces
  // the items it wrote (ItemUpdatesFollower, item_updates.h, calls
  // ForgetItems): the TTL is a safety net for writes that bypass it, long
  // enough that a serving node does not read its hot items again and again
  // (a 5 min TTL re-read 0.7-4.3 items per Recommend at 600/s on a 100k
  // catalogue, and those re-reads were in the half-knee tail,
  // docs/loadtest.md).
  std::chrono::milliseconds item_cache_ttl{3'600'000};
  // A candidate's trending count is cached this long (a 24 h half-life
  // moves it by 0.003% a second, and the events of 30 s are a small share of
  // any count that matters for ranking); only the misses are asked, one
  // ZMSCORE per event partition. Read fresh every request, the counts cost
  // Redis 314 us per Rank on a 100k-item catalogue: a ZMSCORE reply of 100
  // doubles, each printed with %.17g (INFO commandstats, 2026-11-30).
  std::chrono::milliseconds popularity_ttl{30'000};
  // With a background refresher (RefreshPopularity called every second or
  // so, as ranking::Node does), a count past popularity_ttl is still
  // served, and queued for the refresher to read again: the request makes
  // no round trip for it. Without one, an entry past popularity_ttl is a
  // miss, read on the request path. At 600 Recommend/s on a 100k catalogue
  // 0.63 Recommends in 1 made that round trip for a count whose 30 s had
  // run out (docs/loadtest.md).
  bool popularity_in_background = false;
  // Even with a refresher, a count older than this (times 1 - jitter to 1,
  // as every entry's ttl) is not served (the refresher fell behind, or
  // Redis was away): it is read on the request path.
  std::chrono::milliseconds popularity_max_age{600'000};
  // Items queued for the refresher, at most; beyond this a stale item waits
  // for a later request to queue it (until popularity_max_age).
  size_t popularity_queue_limit = 50'000;
  // Each cached entry lives between (1 - this) and 1 times its ttl, so a
  // cache filled in one burst does not expire in one (cache::LruCache).
  double cache_ttl_jitter = 0.5;
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

// The same inputs with the metadata shared, as the cache holds it (no copy
// of an item's strings per request).
using SharedMeta = std::shared_ptr<const ItemMeta>;
struct SharedFeatureInputs {
  int64_t now_ms = 0;
  double history_len = 0;
  std::vector<SharedMeta> recent;
  std::vector<SharedMeta> items;  // one per candidate, never null
  std::vector<double> popularity;
};
std::vector<FeatureRow> ComputeFeatures(const std::vector<CandidateIn>& cands,
                                        const SharedFeatureInputs& in);

// The user's history as someone else read it already (retrieval, which
// reads it for every Recommend).
using KnownHistory = events::UserHistory;

// What FeatureAssembler reads for one request (FeatureSource::Read).
struct FeatureReads {
  double history_len = 0;           // entries of the user's history
  std::vector<std::string> recent;  // the user's newest items, newest first
  std::vector<double> popularity;   // decayed trending count per popularity_of id
  std::vector<ItemMeta> items;      // per meta_of id; known = false: no metadata
};

// What feature assembly needs of storage; each call is one round trip.
// Errors are UNAVAILABLE.
class FeatureSource {
 public:
  virtual ~FeatureSource() = default;
  // The user's history length and newest `recent_items` items (none read
  // when 0), the decayed trending counts as of `now_ms` of `popularity_of`
  // (0 for an item with no events) and the metadata of `meta_of`, in their
  // orders.
  virtual absl::StatusOr<FeatureReads> Read(std::string_view user, int recent_items,
                                            const std::vector<std::string>& popularity_of,
                                            std::span<const std::string_view> meta_of,
                                            int64_t now_ms) = 0;
  // The metadata of more items, in order.
  virtual absl::StatusOr<std::vector<ItemMeta>> ReadItems(
      std::span<const std::string_view> ids) = 0;
};

class FeatureAssembler {
 public:
  FeatureAssembler(FeatureSource& source, const Clock& clock, FeatureOptions options = {});
  // The candidates' features; with `metas`, also their metadata (one per
  // candidate, never null, known = false where the item has none). With
  // `history` holding at least options.recent_items items (or the whole
  // history), the user's history is not read; with the caches warm too, no
  // round trip is made at all.
  absl::StatusOr<std::vector<FeatureRow>> Assemble(std::string_view user,
                                                   const std::vector<CandidateIn>& cands,
                                                   std::vector<SharedMeta>* metas = nullptr,
                                                   const KnownHistory* history = nullptr);

  // The metadata of `ids` changed: the next request reads it again. A read
  // in flight while this is called is used by its request but not cached
  // (it may be older than the change).
  void ForgetItems(std::span<const std::string_view> ids);
  // Any item's may have changed (changes may have been missed): every
  // cached metadata entry is dropped, as by ForgetItems.
  void ForgetAllItems();

  // Reads again the trending counts that requests found past
  // popularity_ttl (popularity_in_background), in batches of at most 1,000
  // per round trip; returns how many it read. A failed read leaves the rest
  // queued for the next call.
  absl::StatusOr<size_t> RefreshPopularity();

  const cache::LruCache<SharedMeta>& item_cache() const { return items_; }
  // Round trips (FeatureSource calls) of the last Assemble on this thread.
  static int last_round_trips();

 private:
  FeatureSource& source_;
  const Clock& clock_;
  FeatureOptions options_;
  // Shared, immutable entries: a hit costs a reference count, not a copy
  // of the item's title, categories and attributes.
  cache::LruCache<SharedMeta> items_;
  // Counts ForgetItems and ForgetAllItems calls: a read that saw it move
  // does not cache what it read.
  std::atomic<uint64_t> item_changes_{0};
  // A trending count and when it was read (clock_.NowMs()).
  struct Count {
    double value = 0;
    int64_t read_ms = 0;
  };
  cache::LruCache<Count> popularity_;  // expires at popularity_max_age (or _ttl)
  std::mutex stale_mu_;
  absl::flat_hash_set<std::string> stale_;  // for RefreshPopularity
};

}  // namespace recstack::ranking
