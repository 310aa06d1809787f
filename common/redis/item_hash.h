#pragma once

// An item's metadata hash, rs:item:<id> (DESIGN §3): what ingestion's
// PutItems writes and every reader parses the same way. Fields: title,
// categories ("a|b|c"), created_at_ms, and attr.<name> per attribute.
//
// After writing them, PutItems announces the items it wrote on the pub/sub
// channel rs:items:updates (Keyspace::ItemUpdates): their ids, one per line
// (redis::UpdatesMessage, subscriber.h), so that caches of the metadata
// forget them (common/ranking/item_updates.h).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/redis/client.h"

namespace recstack::redis {

struct ItemFields {
  std::string title;
  std::vector<std::string> categories;
  int64_t created_at_ms = 0;
  std::map<std::string, std::string> attributes;
};

// "a|b|c" -> {a, b, c}; "" -> {}.
std::vector<std::string> SplitCategories(std::string_view joined);

// Parses an HGETALL reply of an item hash into `out`; false (and `out`
// untouched) when the hash does not exist.
bool ParseItemHash(const Reply& hgetall, ItemFields* out);

}  // namespace recstack::redis
