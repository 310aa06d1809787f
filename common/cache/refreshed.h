#pragma once

// A value kept fresh by a background thread: `fetch` runs every `period`
// (and at Start), and Get() returns the last value that was fetched without
// error, never waiting for a fetch. This is how a fallback or a hot-path
// aggregate costs no remote call: the request reads memory, the refresher
// does the one remote read per period.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace recstack::cache {

template <typename V>
class Refreshed {
 public:
  using Fetch = std::function<absl::StatusOr<V>()>;

  Refreshed(Fetch fetch, std::chrono::milliseconds period)
      : fetch_(std::move(fetch)), period_(period) {}
  ~Refreshed() { Stop(); }
  Refreshed(const Refreshed&) = delete;
  Refreshed& operator=(const Refreshed&) = delete;

  // Fetches once now (its result is returned), then every period.
  absl::Status Start() {
    absl::Status first = RefreshNow();
    thread_ = std::thread([this] { Loop(); });
    return first;
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // The last good value; nullptr until one fetch succeeded.
  std::shared_ptr<const V> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return value_;
  }
  // The last fetch's outcome (OK once one succeeded and none failed since).
  absl::Status last_status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_status_;
  }
  uint64_t fetches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fetches_;
  }

  // One fetch on the caller's thread (tests, and Start).
  absl::Status RefreshNow() {
    absl::StatusOr<V> v = fetch_();
    std::lock_guard<std::mutex> lock(mu_);
    fetches_++;
    if (v.ok()) {
      value_ = std::make_shared<const V>(*std::move(v));
      last_status_ = absl::OkStatus();
    } else {
      last_status_ = v.status();
    }
    return last_status_;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, period_, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      // A failure is kept in last_status_ (status()); the old value serves.
      RefreshNow().IgnoreError();
      lock.lock();
    }
  }

  Fetch fetch_;
  std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const V> value_;
  absl::Status last_status_ = absl::UnavailableError("not fetched yet");
  uint64_t fetches_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace recstack::cache
