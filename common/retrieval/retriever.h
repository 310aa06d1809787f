#pragma once

// Candidate generation (DESIGN §5): three sources merged with quotas.
//   mf         the user's vector . item factors (from Redis, an LRU cache
//              keyed by (version, user); a user the model does not know but
//              with history is folded in: one ALS user step against the
//              item factors of that history);
//   item2item  cosine neighbours of the user's most recent items (a lookup
//              in the model's neighbour table once it is built, a scan of
//              the factors until then);
//   trending   the decayed counts of ingestion's rs:trend, read from memory
//              (a background refresh every `trending_refresh`).
// Seen items (the user's history) and the request's exclude list never
// come back. Each candidate keeps its source and score.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cache/lru.h"
#include "common/cache/refreshed.h"
#include "common/clock/clock.h"
#include "common/redis/popularity.h"
#include "common/retrieval/model_holder.h"
#include "common/retrieval/retrieval_source.h"

namespace recstack::retrieval {

constexpr int kMaxK = 1000;

class EaseModelHolder;  // ease_source.h

// The candidate sources, in merge order (each fills its quota in this order,
// then the rest is taken in this order too).
enum class Source { kMf = 0, kItem2Item = 1, kTrending = 2, kEase = 3 };
inline constexpr int kNumSources = 4;
// "mf", "item2item", "trending", "ease".
std::string_view SourceName(Source source);
// InvalidArgument naming the known sources for anything else.
absl::StatusOr<Source> ParseSource(std::string_view name);

struct RetrieverOptions {
  double mf_share = 0.6, item2item_share = 0.25, trending_share = 0.15;
  // The ease source (item-item EASE, ease_source.h): its quota, and the most
  // recent history items it sums rows of.
  double ease_share = 0.0;
  int ease_history = 100;
  int history_for_seen = 500;    // history entries filtered out
  int history_for_fold_in = 50;  // most recent items a fold-in uses
  int item2item_seeds = 5;       // most recent items whose neighbours are asked
  size_t user_cache_size = 100'000;
  // Items whose neighbour lists are kept (each kCachedNeighbours long).
  size_t neighbour_cache_size = 20'000;
  // The trending list kept in memory: this many items, refreshed this often.
  int trending_keep = 2000;
  std::chrono::milliseconds trending_refresh{2000};
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
  int64_t start_us = 0;  // since Retrieve began
  int64_t latency_us = 0;
  std::string error;
};

struct RetrieveQuery {
  std::string user_id;
  int k = 10;
  std::vector<std::string> sources;  // empty = all
  std::vector<std::string> exclude;
  std::vector<std::string> recent;  // just-interacted items not yet in Redis
  // 0-kMaxHistoryItems: also return the user's history (its length and
  // newest this many items), for ranking.
  int history_items = 0;
};
using events::kMaxHistoryItems;

struct RetrieveResult {
  std::vector<Candidate> candidates;
  std::string model_version;
  std::vector<SourceReport> sources;
  std::string user_vector = "none";  // "model", "folded_in", "none"
  // The user's history as Redis holds it (without the query's recent
  // items): set when the query asked for history_items.
  std::optional<events::UserHistory> history;
};

// Users the served factor model has a vector for (SampleUsers).
struct UserSample {
  std::string model_version;
  std::vector<std::string> user_ids;
};

// User vectors by (model version, user).
using UserVectorCache = cache::LruCache<std::vector<float>>;
// An item's best cosine neighbours by (model version, item), unfiltered
// and longer than any one request needs (see Retriever::NeighboursOfEach).
using NeighbourCache = cache::LruCache<std::shared_ptr<const std::vector<math::ScoredId>>>;

// The ALS user step for a user whose items are `items` (indices into the
// model), each with preference 1 and confidence 1 + alpha.
std::vector<float> FoldIn(const ServingModel& m, const std::vector<int32_t>& items);

class Retriever {
 public:
  // `models` serves the factor models (ModelHolder), `source` the rest
  // (RedisRetrievalSource); both must outlive the retriever.
  Retriever(const ServingModels& models, RetrievalSource& source, const Clock& clock,
            RetrieverOptions options);
  ~Retriever() { Stop(); }

  // Starts (and Stop ends) the background trending refresh.
  void Start();
  void Stop() { trending_.Stop(); }

  absl::StatusOr<RetrieveResult> Retrieve(const RetrieveQuery& query);
  // Cosine neighbours of one item (source "ease": its heaviest EASE
  // weights); NOT_FOUND when the model lacks it.
  absl::StatusOr<RetrieveResult> Similar(const std::string& item_id, int k,
                                         const std::string& source = "");
  // Up to n (1-100) users with a vector in the served factor model, in
  // Redis SCAN order of the version's user keys. The scan is bounded
  // (kSampleScanCalls calls of COUNT 1000) and its result is kept for the
  // version, so only the first call after a new model reads Redis.
  // FailedPrecondition before a factor model is served; NotFound when the
  // bounded scan found none of its users.
  absl::StatusOr<UserSample> SampleUsers(int n);
  static constexpr int kMaxSampleUsers = 100;
  static constexpr int kSampleScanCalls = 50;

  // Serves the `ease` source from this holder (optional; not owned).
  void set_ease(EaseModelHolder* ease) { ease_ = ease; }

  const UserVectorCache& cache() const { return cache_; }
  const NeighbourCache& neighbour_cache() const { return neighbours_; }
  // Length of a cached neighbour list: a request's k best survivors of its
  // filter are exact whenever at least k of these survive.
  static constexpr int kCachedNeighbours = 200;

  // Cosine neighbours of `item` (of each of `items`), best first, ties by
  // index, without the item itself and without ids `skip` accepts. Once the
  // model's neighbour table is built and k <= its per_item: the survivors
  // among the table's row (fewer than k when `skip` removes more; no scan).
  // Otherwise exact: cached lists are used only when enough survive `skip`.
  std::vector<Candidate> Neighbours(const ServingModel& m, int32_t item, int k,
                                    const std::function<bool(int32_t)>& skip) const;
  // Neighbours of several seeds at once (one pass over the factors), as
  // model rows and scores.
  std::vector<std::vector<math::ScoredId>> NeighboursOfEach(
      const ServingModel& m, const std::vector<int32_t>& items, int k,
      const std::function<bool(int32_t)>& skip) const;

 private:
  // What one request knows before any source runs.
  struct Context;
  // One source's output: its candidates and its report.
  struct SourceOutput {
    std::vector<Candidate> candidates;
    SourceReport report;
  };

  // The steps of Retrieve, in order.
  absl::StatusOr<std::array<bool, kNumSources>> ChooseSources(const RetrieveQuery& q,
                                                              const Context& c) const;
  absl::Status LoadHistory(const RetrieveQuery& q, Context& c, RetrieveResult& res);
  SourceOutput FromMf(const RetrieveQuery& q, const Context& c, RetrieveResult& res);
  SourceOutput FromItem2Item(const RetrieveQuery& q, const Context& c) const;
  SourceOutput FromTrending(const RetrieveQuery& q, const Context& c);
  SourceOutput FromEase(const RetrieveQuery& q, const Context& c) const;
  // Each source's quota first, then whatever is left, in source order.
  void Merge(std::array<std::vector<Candidate>, kNumSources>& per_source, int k,
             RetrieveResult& res) const;

  absl::StatusOr<std::vector<Candidate>> Trending(int k);

  const ServingModels& holder_;
  RetrievalSource& source_;
  const Clock& clock_;
  RetrieverOptions options_;
  UserVectorCache cache_;
  mutable NeighbourCache neighbours_;
  cache::Refreshed<redis::ItemCounts> trending_;
  EaseModelHolder* ease_ = nullptr;
  std::mutex sample_mu_;  // held through the scan: one scan per version at a time
  UserSample sample_;     // of sample_.model_version, up to kMaxSampleUsers
};

}  // namespace recstack::retrieval
