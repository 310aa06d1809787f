#pragma once

// What the Retriever reads besides the served models: the user's history,
// stored user vectors, the trending list and the model's users. A small
// interface so the Retriever's logic has socket-free unit tests (with a
// fake); RedisRetrievalSource is the one the service runs.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/events/history.h"
#include "common/model/model_store.h"
#include "common/redis/client.h"
#include "common/redis/popularity.h"

namespace recstack::retrieval {

class RetrievalSource {
 public:
  virtual ~RetrievalSource() = default;
  // The user's n most recent history items, newest first, and with `count`
  // the history's length too (in the same round trip).
  virtual absl::StatusOr<events::UserHistory> History(const std::string& user, int n,
                                                      bool count) = 0;
  // The vector model `version` stores for `user`; nullopt when it has none.
  virtual absl::StatusOr<std::optional<std::vector<float>>> UserVector(const std::string& version,
                                                                       const std::string& user) = 0;
  // The k items with the highest decayed trending counts at now_ms, best first.
  virtual absl::StatusOr<redis::ItemCounts> TopTrending(int64_t now_ms, int k) = 0;
  // Calls `batch` with ids of users model `version` has vectors for, in
  // batches, until they run out or `batch` returns an error (returned).
  virtual absl::Status ScanUsers(
      const std::string& version,
      const std::function<absl::Status(const std::vector<std::string>&)>& batch) = 0;
};

// Redis: ZREVRANGE of the history (and its ZCARD, pipelined), the model store's user vectors, the
// summed trending tops (common/redis/popularity.h), SCAN of a version's
// user keys (COUNT 1000 per call).
class RedisRetrievalSource final : public RetrievalSource {
 public:
  RedisRetrievalSource(redis::Pool& pool, model::ModelStore& store, redis::Keyspace keys)
      : pool_(pool), store_(store), keys_(std::move(keys)) {}
  absl::StatusOr<events::UserHistory> History(const std::string& user, int n, bool count) override;
  absl::StatusOr<std::optional<std::vector<float>>> UserVector(const std::string& version,
                                                               const std::string& user) override;
  absl::StatusOr<redis::ItemCounts> TopTrending(int64_t now_ms, int k) override;
  absl::Status ScanUsers(
      const std::string& version,
      const std::function<absl::Status(const std::vector<std::string>&)>& batch) override;

 private:
  redis::Pool& pool_;
  model::ModelStore& store_;
  redis::Keyspace keys_;
};

}  // namespace recstack::retrieval
