#pragma once

// FeatureSource in Redis: a request's reads in one pipeline (ZCARD and
// ZREVRANGE of rs:hist:{user}, the trending counts of common/redis/
// popularity.h, HMGET categories created_at_ms of each rs:item:{item}).

#include "common/ranking/features.h"
#include "common/redis/client.h"

namespace recstack::ranking {

class RedisFeatureSource final : public FeatureSource {
 public:
  RedisFeatureSource(redis::Pool& pool, redis::Keyspace keys);

  absl::StatusOr<FeatureReads> Read(std::string_view user, int recent_items,
                                    const std::vector<std::string>& popularity_of,
                                    std::span<const std::string_view> meta_of,
                                    int64_t now_ms) override;
  absl::StatusOr<std::vector<ItemMeta>> ReadItems(std::span<const std::string_view> ids) override;

 private:
  redis::Pool& pool_;
  redis::Keyspace keys_;
};

}  // namespace recstack::ranking
