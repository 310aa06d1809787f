#include "common/redis/keyspace.h"

#include <algorithm>

#include "common/redis/client.h"
#include "common/redis/cluster.h"

namespace recstack::redis {

Keyspace::Keyspace(std::string prefix, int partitions, bool tagged)
    : prefix_(std::move(prefix)), tagged_(tagged || partitions > 1) {
  partitions = std::clamp(partitions, 1, kMaxPartitions);
  tags_.resize(partitions);
  if (!tagged_) return;
  for (int p = 0; p < partitions; ++p) {
    // The first tag "p<p>.<k>" whose slot falls in slice p.
    const int lo = p * kClusterSlots / partitions, hi = (p + 1) * kClusterSlots / partitions;
    for (int k = 0;; ++k) {
      std::string tag = "p" + std::to_string(p) + "." + std::to_string(k);
      const int slot = KeySlot(tag);
      if (slot >= lo && slot < hi) {
        tags_[p] = "{" + tag + "}";
        break;
      }
    }
  }
}

Keyspace Keyspace::For(const Options& redis, std::string prefix, int partitions) {
  if (partitions <= 0) partitions = redis.cluster() ? kClusterPartitions : 1;
  return Keyspace(std::move(prefix), partitions, redis.cluster());
}

int Keyspace::PartitionOf(std::string_view user) const {
  if (tags_.size() == 1) return 0;
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : user) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<int>(h % tags_.size());
}

}  // namespace recstack::redis
