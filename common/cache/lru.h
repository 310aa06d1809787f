#pragma once

// A bounded LRU map, safe to share between request threads, with an
// optional time to live: an entry older than `ttl` is a miss (and is
// replaced by the next Put). Every operation is O(1) under one mutex.
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

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace recstack::cache {

template <typename V>
class LruCache {
 public:
  using Clock = std::chrono::steady_clock;
  // ttl 0: entries never expire.
  explicit LruCache(size_t capacity, std::chrono::milliseconds ttl = std::chrono::milliseconds(0))
      : capacity_(capacity), ttl_(ttl) {}

  std::optional<V> Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end() || Expired(it->second->stored_at)) {
      misses_++;
      return std::nullopt;
    }
    hits_++;
    Touch(it->second);
    return it->second->value;
  }

  void Put(const std::string& key, V value) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      it->second->value = std::move(value);
      it->second->stored_at = Clock::now();
      Touch(it->second);
      return;
    }
    lru_.push_front(Entry{key, std::move(value), Clock::now(), ++tick_});
    map_[key] = lru_.begin();
    while (lru_.size() > capacity_) {
      map_.erase(lru_.back().key);
      lru_.pop_back();
    }
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lru_.size();
  }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string key;
    V value;
    Clock::time_point stored_at;
    uint64_t tick = 0;  // tick_ when it was last put at the front
  };
  using Iter = typename std::list<Entry>::iterator;
  // To the front, unless it is among the newest capacity/4 already.
  void Touch(Iter e) {
    if (tick_ - e->tick < capacity_ / 4) return;
    lru_.splice(lru_.begin(), lru_, e);
    e->tick = ++tick_;
  }
  bool Expired(Clock::time_point stored_at) const {
    return ttl_.count() > 0 && Clock::now() - stored_at > ttl_;
  }

  size_t capacity_;
  std::chrono::milliseconds ttl_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;
  std::unordered_map<std::string, Iter> map_;
  uint64_t tick_ = 0;  // insertions and moves to the front so far
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

}  // namespace recstack::cache
