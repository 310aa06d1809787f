#pragma once

// Popularity and trending, read from what ingestion maintains in Redis.
//
// The request path reads one maintained aggregate, `rs:trend`: a zset whose
// score for an item is the sum over its events of
//   weight(event) x 2^((ts - epoch) / half_life)
// with `epoch_ms` and `half_life_ms` in the hash `rs:trend:meta` (written by
// the first event; later writers use the stored values). The decayed count
// of an item as of `now` is score x 2^((epoch - now) / half_life): an
// exponentially decayed weighted count, independent of the order events
// arrive in. Reading the top k is ZREVRANGE (O(log n + k)); reading the
// counts of m candidates is ZMSCORE (O(m)): nothing on the request path
// grows with the catalogue or the window. The ingestion script rescales the
// set (moves the epoch forward) once scores pass 2^64, an O(n) step every 64
// half-lives. docs/loadtest.md says why this beat a background ZUNIONSTORE.
//
// The hourly sets `rs:pop:{hour}` are still written: SumPopularity sums an
// exact window of them for the admin path (GetTrending with window_hours,
// `recstack trending --window`), never per recommendation.
//
// With several event partitions (keyspace.h) each partition has its own
// trend set and hourly sets, and the readers merge them: counts and window
// sums are exact sums over partitions; TopTrending sums each partition's top
// 2k, which is the exact top k unless an item outside every partition's top
// 2k would make it (users, not items, are partitioned, so an item's counts
// are split about evenly and its ranks agree across partitions).

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis/client.h"

namespace recstack::redis {

using ItemCounts = std::vector<std::pair<std::string, double>>;

// (item, weighted count) over the `window_hours` hours ending at `now_ms`,
// best first, ties by item id. A ZUNION over the window: O(catalogue).
absl::StatusOr<ItemCounts> SumPopularity(Pool& pool, const Keyspace& keys, int64_t now_ms,
                                         int window_hours);

// The decay of rs:trend as stored in rs:trend:meta; `known` is false until
// the first event was written.
struct TrendClock {
  bool known = false;
  double epoch_ms = 0, half_life_ms = 1;
  // Multiplies a stored score into a decayed count as of `now_ms`.
  double Factor(int64_t now_ms) const;
};

// The k items with the highest decayed counts as of `now_ms`, best first,
// ties by item id (k <= 100,000).
absl::StatusOr<ItemCounts> TopTrending(Pool& pool, const Keyspace& keys, int64_t now_ms, int k);

// For callers that fold the read into their own pipeline: the commands (per
// partition HMGET of the meta and ZMSCORE of `items`: 2 x partitions), and
// the decayed counts (0 for an item with no events) from their replies, in
// the order of `items`.
std::vector<std::vector<std::string>> TrendingCountsCommands(const Keyspace& keys,
                                                             const std::vector<std::string>& items);
absl::StatusOr<std::vector<double>> ParseTrendingCounts(std::span<const Reply> replies,
                                                        size_t n_items, int64_t now_ms);

}  // namespace recstack::redis
