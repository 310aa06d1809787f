#pragma once

// A model held for serving, following one slot of the model store (DESIGN
// §6): the slot's current version is loaded at Start, again on every
// announcement on its update channel, and on a poll (pub/sub loses what is
// published while disconnected). The serving form of a version is built by a
// caller-supplied function (factors and indexes for retrieval, item vectors
// for ranking's MMR, EASE neighbours, ranker models) and swapped in behind a
// shared_ptr: readers keep the version they started with, and a failed load
// keeps serving the previous one.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/model/model_store.h"
#include "common/redis/keyspace.h"
#include "common/redis/subscriber.h"

namespace recstack::model {

struct FollowOptions {
  Slot slot = Slot::kFactors;
  std::chrono::milliseconds poll_interval{5000};
  std::string name = "model";  // in log lines: "<name> loaded"
};

// The update machinery every holder shares, whatever a version turns into:
// the subscriber, the poller, and one load at a time.
class ModelFollower {
 public:
  // Loads `version` and makes it current; called on the follower's threads
  // (and by Load), never two at once.
  using LoadFn = std::function<absl::Status(const std::string& version)>;
  // The version being served, "" for none.
  using VersionFn = std::function<std::string()>;

  ModelFollower(ModelStore& store, redis::Options redis_options, redis::Keyspace keys,
                FollowOptions options, LoadFn load, VersionFn current);
  ~ModelFollower();
  ModelFollower(const ModelFollower&) = delete;
  ModelFollower& operator=(const ModelFollower&) = delete;

  // Loads the current version if there is one and starts following.
  void Start();
  void Stop();
  // Loads `version` unless it is already served.
  absl::Status Load(const std::string& version);
  bool stopping() const;

 private:
  void Refresh();

  ModelStore& store_;
  redis::Options redis_options_;
  redis::Keyspace keys_;
  FollowOptions options_;
  LoadFn load_;
  VersionFn current_;
  std::mutex load_mu_;
  std::unique_ptr<redis::Subscriber> subscriber_;
  std::thread poller_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

// Holds the serving form T of the current version of one slot.
template <typename T>
class VersionedHolder {
 public:
  // Reads `version` from the store and builds its serving form.
  using Build = std::function<absl::StatusOr<std::shared_ptr<T>>(ModelStore& store,
                                                                 const std::string& version)>;
  // Called after each swap, on the loading thread, outside the holder's locks.
  using Listener = std::function<void(const std::shared_ptr<T>&)>;

  VersionedHolder(ModelStore& store, redis::Options redis_options, redis::Keyspace keys,
                  FollowOptions options, Build build)
      : store_(store), build_(std::move(build)),
        follower_(
            store, std::move(redis_options), std::move(keys), std::move(options),
            [this](const std::string& v) { return LoadNow(v); }, [this] { return version(); }) {}
  ~VersionedHolder() { Stop(); }

  void Start() { follower_.Start(); }
  void Stop() { follower_.Stop(); }
  absl::Status Load(const std::string& version) { return follower_.Load(version); }
  void set_listener(Listener l) { listener_ = std::move(l); }

  // nullptr until a version was loaded.
  std::shared_ptr<const T> Current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  std::string version() const {
    std::lock_guard<std::mutex> lock(mu_);
    return version_;
  }
  // For background work on a loaded model: false once a newer version
  // replaced `m` or the holder is stopping (the work can be abandoned).
  bool IsCurrent(const T* m) const {
    std::lock_guard<std::mutex> lock(mu_);
    return !follower_.stopping() && current_.get() == m;
  }

 private:
  absl::Status LoadNow(const std::string& version) {
    absl::StatusOr<std::shared_ptr<T>> m = build_(store_, version);
    if (!m.ok()) return m.status();
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = *m;
      version_ = version;
    }
    if (listener_) listener_(*m);
    return absl::OkStatus();
  }

  ModelStore& store_;
  Build build_;
  Listener listener_;
  mutable std::mutex mu_;
  std::shared_ptr<const T> current_;
  std::string version_;
  ModelFollower follower_;  // last: its threads stop before the rest goes
};

}  // namespace recstack::model
