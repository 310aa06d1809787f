#pragma once

// The event log and the derived read models in Redis (DESIGN §3), shown
// untagged (a single Redis, one partition); with partitions or on a cluster
// every key but rs:item:* carries its partition's hash tag
// (common/redis/keyspace.h) and rs:events, rs:pop:*, rs:trend* exist once
// per partition:
//   rs:events          stream, one entry per accepted event, approximately
//                      capped at `stream_maxlen`; entry fields:
//                      id, user, item, type (name), value, ts (ms), ctx (JSON, optional)
//   rs:evt:{id}        idempotency marker, TTL `dedup_ttl_s` (24 h)
//   rs:hist:{user}     zset item -> last interaction ms, newest `history_cap` kept
//   rs:pop:{hour}      zset item -> weighted count in that hour, TTL `popularity_ttl_s`
//   rs:trend           zset item -> decayed weighted count (common/redis/popularity.h)
//   rs:trend:meta      hash epoch_ms, half_life_ms of rs:trend
//   rs:item:{item}     hash title, categories ("|"-joined), created_at_ms, attr.<name>
// Each event is written by one Lua script (atomic: marker and writes
// together, or nothing), pipelined per batch. A Redis failure fails the
// whole batch with UNAVAILABLE and acknowledges nothing; a retry is safe
// because markers make the events that did land duplicates.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cache/single_flight.h"
#include "common/clock/clock.h"
#include "common/events/event.h"
#include "common/redis/client.h"
#include "common/redis/popularity.h"

namespace recstack::ingestion {

struct StoreOptions {
  int64_t stream_maxlen = 10'000'000;
  int64_t dedup_ttl_s = 24 * 3600;
  int64_t history_cap = 500;
  int64_t popularity_ttl_s = 8 * 24 * 3600;
  // Half-life of the trending counts (used by the first event written to an
  // empty Redis; later events follow what rs:trend:meta says).
  int64_t trending_half_life_ms = 24 * 3'600'000;
  // How long an exact-window trending sum is shared between callers.
  std::chrono::milliseconds window_cache_ttl{5000};
  // Acknowledge a batch only once this many replicas of every master it
  // touched have it (WAIT), so a failover loses no acknowledged event; 0
  // acknowledges what the master has.
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1000};
};

enum class Outcome { kAccepted, kDuplicate };

struct HistoryEntry {
  std::string item_id;
  int64_t timestamp_ms;
};

struct ScoredItem {
  std::string item_id;
  double score;
};

struct ItemRecord {
  std::string item_id, title;
  std::vector<std::string> categories;
  int64_t created_at_ms = 0;
  std::map<std::string, std::string> attributes;
};

class EventStore {
 public:
  EventStore(redis::Pool& pool, redis::Keyspace keys, StoreOptions options, const Clock& clock);

  // Writes normalized, valid events; one outcome per event, in order.
  absl::StatusOr<std::vector<Outcome>> Write(const std::vector<events::Event>& events);

  // Most recent first; limit 1-1000.
  absl::StatusOr<std::vector<HistoryEntry>> History(std::string_view user, int limit);
  // Best first. window_hours 0: the decayed counts of rs:trend (O(k));
  // otherwise the exact sum of that many hourly sets, shared by callers for
  // `window_cache_ttl` (single flight), k at most kMaxTrending.
  absl::StatusOr<std::vector<ScoredItem>> Trending(int k, int window_hours);
  static constexpr size_t kMaxTrending = 10'000;

  absl::Status UpsertItems(const std::vector<ItemRecord>& items);
  // Known items only, in request order.
  absl::StatusOr<std::vector<ItemRecord>> GetItems(const std::vector<std::string>& ids);

  absl::Status Ping() { return pool_.Ping(); }
  const redis::Keyspace& keys() const { return keys_; }

 private:
  redis::Pool& pool_;
  redis::Keyspace keys_;
  StoreOptions options_;
  const Clock& clock_;
  redis::Script script_;
  cache::SingleFlightCache<int, redis::ItemCounts> window_sums_;
};

}  // namespace recstack::ingestion
