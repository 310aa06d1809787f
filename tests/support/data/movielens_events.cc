#include "tests/support/data/movielens_events.h"

#include <algorithm>

#include "common/data/loaders.h"

namespace recstack::testing {

absl::StatusOr<std::vector<events::Event>> MovieLensEvents(const std::string& path,
                                                           int64_t now_ms) {
  auto rows = data::LoadInteractions(path, data::Format::kMovieLens);
  if (!rows.ok()) return rows.status();
  int64_t latest = 0;
  for (const auto& r : *rows) latest = std::max(latest, r.timestamp_ms);
  const int64_t shift = now_ms - latest;
  std::vector<events::Event> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) {
    out.push_back({.event_id = events::DeriveEventId(r.user, r.item, events::EventType::kRating,
                                                     r.timestamp_ms),
                   .user_id = r.user,
                   .item_id = r.item,
                   .type = events::EventType::kRating,
                   .value = r.value,
                   .timestamp_ms = r.timestamp_ms + shift});
  }
  return out;
}

}  // namespace recstack::testing
