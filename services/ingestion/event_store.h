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
//
// EventStore holds the rules (what is acknowledged, how reads are bounded
// and shared) and reaches storage through the small EventStorage interface;
// RedisEventStorage (redis_event_storage.h) is the layout above, and unit
// tests use an in-memory fake.

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/cache/single_flight.h"
#include "common/clock/clock.h"
#include "common/events/event.h"
#include "common/redis/popularity.h"

namespace recstack::ingestion {

constexpr int kMaxBatch = 10'000;
constexpr int kMaxItemsPerUpsert = 10'000;

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

// An event of a batch that failed validation: its index in the batch, and
// the rule it broke (common/events/event.h), which names the field.
struct Rejection {
  int index = 0;
  std::string event_id;
  events::EventType type = events::EventType::kUnspecified;  // as sent
  std::string reason;
};

// InvalidArgument for a batch of no events or more than kMaxBatch (checked
// before a batch is decoded).
absl::Status CheckBatchSize(int64_t n);

// Validates each event of a batch: those that pass are normalized (ids
// derived, time defaulted; `random_bits` for ids that cannot be derived)
// and kept in `batch` in their order; the others are returned, in order.
std::vector<Rejection> CheckBatch(std::vector<events::Event>& batch, int64_t now_ms,
                                  const events::ValidationLimits& limits,
                                  absl::FunctionRef<uint64_t()> random_bits);

// InvalidArgument naming the field: item_id (an id, common/events/ids.h),
// title (at most 1024 bytes), categories and attributes (at most 32 each).
absl::Status ValidateItem(const ItemRecord& item);

// What EventStore needs of its storage. Every call is one round trip (one
// pipeline); failures are UNAVAILABLE.
class EventStorage {
 public:
  virtual ~EventStorage() = default;

  struct Appended {
    std::vector<Outcome> outcomes;  // one per event, in order
    int replicas = 0;               // with options.wait_replicas > 0: replicas that have it
  };
  // Each event atomically with its idempotency marker (kept
  // options.dedup_ttl_s): an event whose id has no marker yet is appended to
  // the log (capped at options.stream_maxlen), enters the user's history
  // (newest options.history_cap kept) when events::IsInteraction, and adds
  // events::PopularityWeight to the item's hourly and trending counts
  // (kAccepted); one whose id has a marker writes nothing (kDuplicate). Then,
  // with options.wait_replicas > 0, waits up to options.wait_timeout for
  // that many replicas. An error fails the whole batch.
  virtual absl::StatusOr<Appended> Append(std::span<const events::Event> events,
                                          const StoreOptions& options) = 0;
  // The user's newest `limit` (1-1000) history entries, newest first.
  virtual absl::StatusOr<std::vector<HistoryEntry>> History(std::string_view user, int limit) = 0;
  // The k best decayed trending counts as of `now_ms` (best first, ties by id).
  virtual absl::StatusOr<redis::ItemCounts> TopTrending(int64_t now_ms, int k) = 0;
  // Every item's weighted count over the `window_hours` hours ending at
  // `now_ms`, best first, ties by id.
  virtual absl::StatusOr<redis::ItemCounts> SumPopularity(int64_t now_ms, int window_hours) = 0;
  // Sets each item's metadata (fields not given are kept).
  virtual absl::Status PutItems(const std::vector<ItemRecord>& items) = 0;
  // Known items only, in request order.
  virtual absl::StatusOr<std::vector<ItemRecord>> GetItems(const std::vector<std::string>& ids) = 0;
  virtual absl::Status Ping() = 0;
};

class EventStore {
 public:
  EventStore(EventStorage& storage, StoreOptions options, const Clock& clock);

  // Writes normalized, valid events; one outcome per event, in order.
  // UNAVAILABLE acknowledges none of them (a retry is safe).
  absl::StatusOr<std::vector<Outcome>> Write(const std::vector<events::Event>& events);

  // Most recent first; limit 1-1000 (clamped).
  absl::StatusOr<std::vector<HistoryEntry>> History(std::string_view user, int limit);
  // Best first. window_hours 0: the decayed counts of rs:trend (O(k));
  // otherwise the exact sum of that many hourly sets, shared by callers for
  // `window_cache_ttl` (single flight), k at most kMaxTrending.
  absl::StatusOr<std::vector<ScoredItem>> Trending(int k, int window_hours);
  static constexpr size_t kMaxTrending = 10'000;

  absl::Status UpsertItems(const std::vector<ItemRecord>& items);
  // Known items only, in request order.
  absl::StatusOr<std::vector<ItemRecord>> GetItems(const std::vector<std::string>& ids);

  absl::Status Ping() { return storage_.Ping(); }

 private:
  EventStorage& storage_;
  StoreOptions options_;
  const Clock& clock_;
  cache::SingleFlightCache<int, redis::ItemCounts> window_sums_;
};

}  // namespace recstack::ingestion
