#pragma once

// Users' histories kept in memory between Recommends, forgotten when they
// change. Every Recommend reads its user's history (the seen items to
// filter, the seeds of item-to-item, ranking's recent items): without a
// cache, one Redis round trip per Recommend and the largest part of
// retrieval's time at half the knee (docs/serving.md, "Histories in
// memory").
//
// A history changes only when an interaction is written, and the write
// itself announces it: ingestion's event script publishes the users whose
// histories it changed on rs:users:updates after its writes
// (services/ingestion/redis_event_storage.cc), and HistoryUpdatesFollower
// (below) tells this cache to forget them. So a cached history is the
// one in Redis, but for the announcement's delivery (milliseconds).
//
// Pub/sub loses what is published while no one listens, so the cache
// serves only while subscribed: it starts off, is emptied and turned on
// at every (re)subscription, and turned off when the subscription is lost
// (then every read goes to Redis, as without the cache). A read that races
// with an announcement of its user is not kept: each Put carries the
// generation of the user's stripe seen before its read, and is dropped if
// an announcement came since, or the subscription came or went. A TTL
// (5-10 min, jittered) bounds an entry's life should a change go
// unannounced some other way (a history key deleted by hand, or evicted
// under maxmemory).
//
// HistoryCachedSource puts the cache in front of another source's History
// (the other reads pass through), so the Retriever knows nothing of it.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/cache/lru.h"
#include "common/events/history.h"
#include "common/redis/client.h"
#include "common/redis/keyspace.h"
#include "common/redis/subscriber.h"
#include "common/retrieval/retrieval_source.h"

namespace recstack::retrieval {

struct HistoryCacheOptions {
  size_t capacity = 20'000;  // users; 0 turns the cache off
  std::chrono::milliseconds ttl{std::chrono::minutes(10)};
};

class HistoryCache {
 public:
  explicit HistoryCache(HistoryCacheOptions options);

  // Before a read from Redis: the token its Put must carry.
  uint64_t Generation(std::string_view user) const;
  // The user's n newest items (and the history's length) if held and live:
  // held means read with at least n items, or the whole history.
  std::optional<events::UserHistory> Get(std::string_view user, int n);
  // Keeps `history` (read with ZREVRANGE 0 read_n-1 and ZCARD) unless the
  // user was announced since `generation` or the cache is not live.
  void Put(std::string_view user, uint64_t generation, int read_n, events::UserHistory history);

  // The announcement's users changed: forget them.
  void Forget(std::span<const std::string_view> users);
  // Subscribed (empties the cache and serves from it) or not (serves nothing).
  void SetLive(bool live);
  // Serving from memory: on (capacity > 0) and subscribed.
  bool live() const { return enabled_ && live_.load(); }

  uint64_t hits() const { return entries_.hits(); }
  uint64_t misses() const { return entries_.misses(); }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    int read_n = 0;  // how many newest items were asked for
    std::shared_ptr<const events::UserHistory> history;
  };
  static constexpr size_t kStripes = 256;
  std::atomic<uint64_t>& Stripe(std::string_view user) const;

  bool enabled_;
  cache::LruCache<Entry> entries_;
  // A Put's check of its generation and its insertion, and a Forget's bump
  // and erasure, each under this: a Put cannot land between the two.
  std::mutex mu_;
  mutable std::array<std::atomic<uint64_t>, kStripes> generations_{};
  std::atomic<bool> live_{false};
};

// `inner`'s reads, with History answered from `cache` when it can (and
// read from `inner` with the history's length, then kept, when not).
class HistoryCachedSource final : public RetrievalSource {
 public:
  HistoryCachedSource(RetrievalSource& inner, HistoryCache& cache) : inner_(inner), cache_(cache) {}
  absl::StatusOr<events::UserHistory> History(const std::string& user, int n, bool count) override;
  absl::StatusOr<std::optional<std::vector<float>>> UserVector(const std::string& version,
                                                               const std::string& user) override {
    return inner_.UserVector(version, user);
  }
  absl::StatusOr<redis::ItemCounts> TopTrending(int64_t now_ms, int k) override {
    return inner_.TopTrending(now_ms, k);
  }
  absl::Status ScanUsers(
      const std::string& version,
      const std::function<absl::Status(const std::vector<std::string>&)>& batch) override {
    return inner_.ScanUsers(version, batch);
  }

 private:
  RetrievalSource& inner_;
  HistoryCache& cache_;
};

// Subscribes to rs:users:updates for `cache`: forgets the announced users,
// turns the cache on at every (re)subscription and off when the
// subscription is lost or stopped.
class HistoryUpdatesFollower {
 public:
  HistoryUpdatesFollower(const redis::Options& redis, const redis::Keyspace& keys,
                         HistoryCache& cache);
  ~HistoryUpdatesFollower() { Stop(); }
  HistoryUpdatesFollower(const HistoryUpdatesFollower&) = delete;
  HistoryUpdatesFollower& operator=(const HistoryUpdatesFollower&) = delete;
  void Start();
  void Stop();

 private:
  HistoryCache& cache_;
  redis::Subscriber subscriber_;
};

}  // namespace recstack::retrieval
