#pragma once

// A bounded LRU map, safe to share between request threads, with an
// optional time to live: an entry older than `ttl` is a miss (and is
// replaced by the next Put). Every operation is O(1) under one mutex.
//
// With `ttl_jitter` j > 0 each entry lives a time drawn uniformly from
// [ttl * (1 - j), ttl]: entries filled together (a cold cache warming up
// under load) then expire spread over j * ttl instead of all in the same
// second, which would send every request of that second back to the
// source at once (ranking's metadata cache: 15 HGETALLs per Recommend for
// as long as the refill took, docs/serving.md).
//
// A hit moves its entry to the front only when it is not already among the
// newest quarter of the capacity (counted in insertions and moves since it
// was last put there). Moving an entry writes to three list nodes, each a
// cache miss in a 200k-entry cache, and a request path that reads the same
// hot entries again and again paid them on every hit (ranking's metadata
// cache, docs/serving.md). An entry the rule leaves in place is at most a
// quarter of the capacity from the front, so it cannot be evicted before
// three quarters of the capacity in newer entries push it out, by which
// time its next hit moves it: eviction stays least recently used within a
// quarter of the capacity, and exact below a capacity of 4.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace recstack::cache {

// The entries live in an open-addressing map (absl::flat_hash_map) with
// their value, expiry and list position beside the key, so a hit reads the
// map's control bytes and one slot: two cache lines, where a node-based
// map and a list of values took four (8% of the embedded gateway's CPU was
// ranking's two caches' lookups, perf at 600 Recommend/s, 2026-12-02). The
// recency list holds only the keys, for eviction.
template <typename V>
class LruCache {
 public:
  using Clock = std::chrono::steady_clock;
  // ttl 0: entries never expire.
  explicit LruCache(size_t capacity, std::chrono::milliseconds ttl = std::chrono::milliseconds(0),
                    double ttl_jitter = 0)
      : capacity_(capacity), ttl_(ttl), jitter_(std::clamp(ttl_jitter, 0.0, 1.0)) {}

  std::optional<V> Get(std::string_view key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(View(key));
    if (it == map_.end() || Expired(it->second)) {
      misses_++;
      return std::nullopt;
    }
    hits_++;
    Touch(it->second);
    return it->second.value;
  }

  void Put(std::string_view key, V value) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(View(key));
    if (it != map_.end()) {
      it->second.value = std::move(value);
      it->second.expires_at = ExpiresAt();
      Touch(it->second);
      return;
    }
    lru_.emplace_front(key);
    map_.emplace(std::string(key), Entry{std::move(value), ExpiresAt(), ++tick_, lru_.begin()});
    while (lru_.size() > capacity_) {
      map_.erase(View(lru_.back()));
      lru_.pop_back();
    }
  }

  // Drops `key`, if held (its source changed).
  void Erase(std::string_view key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(View(key));
    if (it == map_.end()) return;
    lru_.erase(it->second.where);
    map_.erase(it);
  }
  // Drops every entry.
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    map_.clear();
    lru_.clear();
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lru_.size();
  }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    V value;
    Clock::time_point expires_at;            // unused without a ttl
    uint64_t tick = 0;                       // tick_ when it was last put at the front
    std::list<std::string>::iterator where;  // its key in lru_
  };
  // Debian's Abseil has its own string_view, which the map's hash takes.
  static absl::string_view View(std::string_view s) { return {s.data(), s.size()}; }
  // To the front, unless it is among the newest capacity/4 already.
  void Touch(Entry& e) {
    if (tick_ - e.tick < capacity_ / 4) return;
    lru_.splice(lru_.begin(), lru_, e.where);
    e.tick = ++tick_;
  }
  bool Expired(const Entry& e) const { return ttl_.count() > 0 && Clock::now() > e.expires_at; }
  // Now plus this entry's lifetime (under mu_): ttl, less up to jitter_ of
  // it, uniformly (splitmix64 of a counter: cheap, and different per entry).
  Clock::time_point ExpiresAt() {
    const auto now = Clock::now();
    if (ttl_.count() == 0 || jitter_ == 0) return now + ttl_;
    uint64_t z = (seq_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const double u = static_cast<double>(z >> 11) * 0x1.0p-53;  // [0, 1)
    return now + std::chrono::duration_cast<Clock::duration>(ttl_ * (1 - jitter_ * u));
  }

  size_t capacity_;
  std::chrono::milliseconds ttl_;
  double jitter_;
  uint64_t seq_ = 0;
  mutable std::mutex mu_;
  std::list<std::string> lru_;  // keys, the most recently used first
  absl::flat_hash_map<std::string, Entry> map_;
  uint64_t tick_ = 0;  // insertions and moves to the front so far
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

}  // namespace recstack::cache
