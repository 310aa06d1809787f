#pragma once

// Events as every service sees them (DESIGN §2): their types, the rules
// ingestion validates them by, and event-id derivation (the CLI derives ids
// for file rows the same way). The rules, each with the
// message a rejected event gets back:
//   - user_id and item_id: 1-128 bytes of printable UTF-8 (no control
//     characters, valid encoding);
//   - event_id: empty or 1-128 printable bytes (empty: derived, see below);
//   - type: one of VIEW CLICK PLAY PURCHASE RATING LIKE DISLIKE IMPRESSION;
//   - value: finite; RATING within [min_rating, max_rating] (0.5-5 by
//     default); other types within [0, 1e6] (0 means the type's weight);
//   - timestamp_ms: 0 (= now) or at least 2000-01-01 and at most 24 h ahead;
//   - context: at most 32 entries, keys 1-64 bytes, values <= 256 bytes.
// Event ids: a missing event_id is derived from (user, item, type,
// timestamp) when the timestamp is given, so a retried row is a duplicate;
// without a timestamp too the event gets a fresh random id (no dedup).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/events/ids.h"

namespace recstack::events {

// Numbered as recstack.v1.EventType.
enum class EventType {
  kUnspecified = 0,
  kView = 1,
  kClick = 2,
  kPlay = 3,
  kPurchase = 4,
  kRating = 5,
  kLike = 6,
  kDislike = 7,
  kImpression = 8,
};
constexpr int kNumEventTypes = 9;

std::string_view EventTypeName(EventType type);  // "VIEW", ...
bool ParseEventType(std::string_view name, EventType* type);

struct Event {
  std::string event_id;
  std::string user_id;
  std::string item_id;
  EventType type = EventType::kUnspecified;
  double value = 0;
  int64_t timestamp_ms = 0;
  std::map<std::string, std::string> context;
};

struct ValidationLimits {
  double min_rating = 0.5;
  double max_rating = 5.0;
  int64_t max_future_ms = 24LL * 3600 * 1000;
  size_t max_context_entries = 32;
  size_t max_context_key = 64;
  size_t max_context_value = 256;
};

constexpr int64_t kYear2000Ms = 946684800000LL;

// InvalidArgument naming the field and the rule.
absl::Status ValidateEvent(const Event& event, int64_t now_ms, const ValidationLimits& limits);

// Fills event_id (derived or random) and timestamp (now) when missing.
void Normalize(Event& event, int64_t now_ms, uint64_t random_bits);

// The deterministic id of a row: 32 hex chars of two 64-bit FNV-1a hashes of
// user, item, type name and timestamp (the CLI uses it for file rows).
std::string DeriveEventId(std::string_view user, std::string_view item, EventType type,
                          int64_t timestamp_ms);

// Weight of an event in the popularity counts (trending): PURCHASE 5,
// LIKE 3, CLICK and PLAY 2, VIEW and RATING 1, DISLIKE and IMPRESSION 0.
double PopularityWeight(EventType type);
// True for events that are user interactions (history): all but IMPRESSION.
bool IsInteraction(EventType type);

}  // namespace recstack::events
