#pragma once

// The Redis keyspace of DESIGN §3, in one place. The prefix (default "rs:")
// lets several stacks share one Redis.

#include <cstdint>
#include <string>
#include <string_view>

namespace recstack::redis {

class Keyspace {
 public:
  explicit Keyspace(std::string prefix = "rs:") : prefix_(std::move(prefix)) {}

  std::string Events() const { return Join("events"); }                             // stream
  std::string EventMarker(std::string_view id) const { return Join("evt:", id); }   // string, TTL
  std::string History(std::string_view user) const { return Join("hist:", user); }  // zset
  // Popularity of one hour; hour = epoch ms / 3,600,000.
  std::string Popularity(int64_t hour) const { return Join("pop:", std::to_string(hour)); }
  std::string Item(std::string_view item) const { return Join("item:", item); }  // hash
  // Trending as one maintained aggregate (see popularity.h): zset item ->
  // weighted count x 2^((ts - epoch) / half_life), and its hash of
  // epoch_ms and half_life_ms.
  std::string Trend() const { return Join("trend"); }
  std::string TrendMeta() const { return Join("trend:meta"); }
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

  std::string prefix_;
};

}  // namespace recstack::redis
