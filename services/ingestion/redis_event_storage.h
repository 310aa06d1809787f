#pragma once

// EventStorage in Redis: the keys and the write script of event_store.h's
// layout. One pipelined round trip per call (Append: one script call per 32
// events of a partition, EVALSHA pipelined on one connection, then WAIT on
// it when asked; SCRIPT LOAD only when a server lacks the script).

#include "common/redis/client.h"
#include "services/ingestion/event_store.h"

namespace recstack::ingestion {

class RedisEventStorage final : public EventStorage {
 public:
  RedisEventStorage(redis::Pool& pool, redis::Keyspace keys);

  absl::StatusOr<Appended> Append(std::span<const events::Event> events,
                                  const StoreOptions& options) override;
  absl::StatusOr<std::vector<HistoryEntry>> History(std::string_view user, int limit) override;
  absl::StatusOr<redis::ItemCounts> TopTrending(int64_t now_ms, int k) override;
  absl::StatusOr<redis::ItemCounts> SumPopularity(int64_t now_ms, int window_hours) override;
  absl::Status PutItems(const std::vector<ItemRecord>& items) override;
  absl::StatusOr<std::vector<ItemRecord>> GetItems(const std::vector<std::string>& ids) override;
  absl::Status Ping() override { return pool_.Ping(); }

  const redis::Keyspace& keys() const { return keys_; }

 private:
  redis::Pool& pool_;
  redis::Keyspace keys_;
  redis::Script script_;
};

}  // namespace recstack::ingestion
