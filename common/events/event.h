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
//   - context: at most 32 entries, keys 1-64 bytes, values <= 256 bytes;
//   - shown (IMPRESSION only, one answer as shown): at most 50 items, each
//     a valid item id, position 0-9999, propensity in [0, 1] (0: not said),
//     at most 32 finite features; item_id is the first shown item. An
//     IMPRESSION's context may not hold the key "shown" (the event log
//     keeps the items there).
// Event ids: a missing event_id is derived from (user, item, type,
// timestamp) when the timestamp is given, so a retried row is a duplicate;
// without a timestamp too the event gets a fresh random id (no dedup).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

// One item of an answer as shown (recstack.v1.ShownItem).
struct ShownItem {
  std::string item_id;
  int32_t position = 0;
  double propensity = 0;  // 0: not said
  std::vector<float> features;
};

inline constexpr size_t kMaxShown = 50;
inline constexpr size_t kMaxShownFeatures = 32;
inline constexpr int32_t kMaxShownPosition = 9999;
// The context key the event log keeps an IMPRESSION's shown items under.
inline constexpr char kShownContextKey[] = "shown";

struct Event {
  std::string event_id;
  std::string user_id;
  std::string item_id;
  EventType type = EventType::kUnspecified;
  double value = 0;
  int64_t timestamp_ms = 0;
  std::map<std::string, std::string> context;
  std::vector<ShownItem> shown = {};  // IMPRESSION only
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

// The shown items as one string for the event log: per item
// "ITEM\tPOSITION\tPROPENSITY\tF1,F2,...", items joined by '\n' (ids are
// printable, so neither separator occurs in them). Numbers round-trip
// exactly (shortest form).
std::string EncodeShown(const std::vector<ShownItem>& shown);
// InvalidArgument naming the item and field for text EncodeShown did not make.
absl::StatusOr<std::vector<ShownItem>> DecodeShown(std::string_view text);

// Weight of an event in the popularity counts (trending): PURCHASE 5,
// LIKE 3, CLICK and PLAY 2, VIEW and RATING 1, DISLIKE and IMPRESSION 0.
double PopularityWeight(EventType type);
// True for events that are user interactions (history): all but IMPRESSION.
bool IsInteraction(EventType type);

}  // namespace recstack::events
