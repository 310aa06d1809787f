#pragma once

// A cache whose misses are computed once, whoever asks (single flight):
// while one caller computes a key, the others asking for it wait for that
// result instead of computing it too; once a value exists, a caller that
// finds it stale gets the stale value at once while one caller refreshes it
// (stale-while-revalidate). So an expiry under load costs one recompute,
// never one per waiting request (Bronson et al., "Metastable Failures in
// Distributed Systems", HotOS 2021). A failed compute is returned to the
// callers that waited for it and is not cached.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "absl/status/statusor.h"

namespace recstack::cache {

template <typename K, typename V>
class SingleFlightCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Compute = std::function<absl::StatusOr<V>()>;

  explicit SingleFlightCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  absl::StatusOr<V> Get(const K& key, const Compute& compute) {
    std::unique_lock<std::mutex> lock(mu_);
    Slot& slot = slots_[key];
    const bool fresh = slot.value != nullptr && Clock::now() - slot.stored_at < ttl_;
    if (fresh) return *slot.value;
    if (slot.computing) {
      if (slot.value != nullptr) return *slot.value;  // stale while one refreshes
      const uint64_t round = slot.round;
      cv_.wait(lock, [&] { return slots_[key].round != round; });
      Slot& done = slots_[key];
      if (done.value != nullptr && done.last_error.ok()) return *done.value;
      return done.last_error;
    }
    slot.computing = true;
    lock.unlock();
    computes_++;
    absl::StatusOr<V> v = compute();
    lock.lock();
    Slot& s = slots_[key];
    s.computing = false;
    s.round++;
    if (v.ok()) {
      s.value = std::make_shared<V>(*v);
      s.stored_at = Clock::now();
      s.last_error = absl::OkStatus();
    } else {
      s.last_error = v.status();
    }
    lock.unlock();
    cv_.notify_all();
    return v;
  }

  // How many times a compute function ran (tests, metrics).
  uint64_t computes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return computes_;
  }

 private:
  struct Slot {
    std::shared_ptr<const V> value;
    Clock::time_point stored_at;
    bool computing = false;
    uint64_t round = 0;
    absl::Status last_error;
  };
  std::chrono::milliseconds ttl_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<K, Slot> slots_;
  uint64_t computes_ = 0;
};

}  // namespace recstack::cache
