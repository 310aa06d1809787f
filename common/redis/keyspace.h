#pragma once

// The Redis keyspace of DESIGN §3, in one place. The prefix (default "rs:")
// lets several stacks share one Redis.
//
// Sharding (docs/scale.md): the event log is `partitions` streams, a user's
// events always in the same one (PartitionOf, as Kafka partitions by key).
// On a cluster, or with more than one partition, the keys one event write
// touches together (its partition's stream, the user's history, the dedupe
// marker, the partition's popularity and trend sets) share the partition's
// hash tag, so the per-event Lua script stays in one slot:
//
//   rs:{p3.17}:events  rs:{p3.17}:hist:{user}  rs:{p3.17}:evt:{id}
//   rs:{p3.17}:pop:{hour}  rs:{p3.17}:trend  rs:{p3.17}:trend:meta
//
// The tags are chosen so that partition p's slot lies in the p-th of
// `partitions` equal slices of the 16384 slots: partitions spread evenly
// over masters that own equal slot ranges. A single Redis with one
// partition keeps the untagged names (rs:events, rs:hist:{user}, ...).
// Everything else (items, models) has no tag and spreads by its own key.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace recstack::redis {

struct Options;

class Keyspace {
 public:
  // `tagged`: hash-tag the partitioned keys (forced when partitions > 1).
  explicit Keyspace(std::string prefix = "rs:", int partitions = 1, bool tagged = false);
  // A deployment's keyspace: tagged on a cluster; `partitions` 0 picks the
  // default (1 on a single Redis, kClusterPartitions on a cluster).
  static Keyspace For(const Options& redis, std::string prefix, int partitions);
  static constexpr int kClusterPartitions = 16;
  static constexpr int kMaxPartitions = 1024;

  int partitions() const { return static_cast<int>(tags_.size()); }
  bool tagged() const { return tagged_; }
  // The partition of a user's events: FNV-1a of the id, mod partitions.
  int PartitionOf(std::string_view user) const;

  std::string Events(int partition = 0) const { return Part(partition, "events"); }  // stream
  std::string EventMarker(int partition, std::string_view id) const {
    return Part(partition, "evt:", id);  // string, TTL
  }
  std::string History(std::string_view user) const {
    return Part(PartitionOf(user), "hist:", user);  // zset
  }
  // Popularity of one hour of one partition; hour = epoch ms / 3,600,000.
  std::string Popularity(int partition, int64_t hour) const {
    return Part(partition, "pop:", std::to_string(hour));
  }
  std::string Item(std::string_view item) const { return Join("item:", item); }  // hash
  // Pub/sub channel: the ids of the items UpsertItems wrote (item_hash.h).
  std::string ItemUpdates() const { return Join("items:updates"); }
  // Pub/sub channel: the users whose histories an event write changed,
  // published by the write itself (services/ingestion/redis_event_storage.cc;
  // common/retrieval/history_cache.h).
  std::string UserUpdates() const { return Join("users:updates"); }
  // Trending as one maintained aggregate per partition (see popularity.h):
  // zset item -> weighted count x 2^((ts - epoch) / half_life), and its
  // hash of epoch_ms and half_life_ms.
  std::string Trend(int partition = 0) const { return Part(partition, "trend"); }
  std::string TrendMeta(int partition = 0) const { return Part(partition, "trend:meta"); }
  std::string ModelCurrent() const { return Join("model:current"); }
  std::string ModelSeq() const { return Join("model:seq"); }
  std::string ModelVersions() const { return Join("model:versions"); }
  std::string ModelMeta(std::string_view v) const { return Join("model:", v, ":meta"); }
  std::string ModelItems(std::string_view v, int chunk) const {
    return Join("model:", v, ":items:", std::to_string(chunk));
  }
  std::string ModelUser(std::string_view v, std::string_view user) const {
    return Join("model:", v, ":user:", user);
  }
  std::string ModelUpdates() const { return Join("model:updates"); }  // pub/sub channel
  // The served EASE (item-item) version and its announcements: a second
  // slot, so a factor model and an item-item model are served side by side.
  std::string ModelCurrentEase() const { return Join("model:current:ease"); }
  std::string ModelUpdatesEase() const { return Join("model:updates:ease"); }
  // Further slots (the learned rankers, "gbdt" and "logistic"), the same way.
  std::string ModelCurrentSlot(std::string_view slot) const { return Join("model:current:", slot); }
  std::string ModelUpdatesSlot(std::string_view slot) const { return Join("model:updates:", slot); }
  // A ranker version's one value: the sealed model (common/ml/envelope.h).
  std::string ModelBlob(std::string_view v) const { return Join("model:", v, ":blob"); }

  const std::string& prefix() const { return prefix_; }

  static constexpr int64_t kMsPerHour = 3'600'000;

 private:
  template <typename... Parts>
  std::string Join(const Parts&... parts) const {
    std::string out = prefix_;
    (out.append(std::string_view(parts)), ...);
    return out;
  }
  template <typename... Parts>
  std::string Part(int partition, const Parts&... parts) const {
    std::string out = prefix_;
    if (tagged_) out.append(tags_[partition]).push_back(':');
    (out.append(std::string_view(parts)), ...);
    return out;
  }

  std::string prefix_;
  bool tagged_;
  std::vector<std::string> tags_;  // "{p3.17}" per partition ("" untagged)
};

}  // namespace recstack::redis
