#pragma once

// Reads ingestion's hourly popularity sets (rs:pop:{hour}) summed over a
// window: trending in ingestion, the trending source of retrieval and the
// popularity feature of ranking all use this one read.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis/client.h"

namespace recstack::redis {

// (item, weighted count) over the `window_hours` hours ending at `now_ms`,
// best first, ties by item id.
absl::StatusOr<std::vector<std::pair<std::string, double>>> SumPopularity(Pool& pool,
                                                                          const Keyspace& keys,
                                                                          int64_t now_ms,
                                                                          int window_hours);

}  // namespace recstack::redis
