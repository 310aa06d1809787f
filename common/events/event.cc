#include "common/events/event.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace recstack::events {
namespace {

constexpr std::string_view kNames[kNumEventTypes] = {"EVENT_TYPE_UNSPECIFIED",
                                                     "VIEW",
                                                     "CLICK",
                                                     "PLAY",
                                                     "PURCHASE",
                                                     "RATING",
                                                     "LIKE",
                                                     "DISLIKE",
                                                     "IMPRESSION"};

std::string S(std::string_view v) { return std::string(v); }

uint64_t Fnv1a(std::string_view s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::string_view EventTypeName(EventType type) {
  const int t = static_cast<int>(type);
  return t >= 0 && t < kNumEventTypes ? kNames[t] : kNames[0];
}

bool ParseEventType(std::string_view name, EventType* type) {
  for (int t = 1; t < kNumEventTypes; ++t) {
    if (name == kNames[t]) {
      *type = static_cast<EventType>(t);
      return true;
    }
  }
  return false;
}

absl::Status ValidateEvent(const Event& e, int64_t now_ms, const ValidationLimits& l) {
  if (absl::Status st = ids::ValidateId("user_id", e.user_id); !st.ok()) return st;
  if (absl::Status st = ids::ValidateId("item_id", e.item_id); !st.ok()) return st;
  if (!e.event_id.empty()) {
    if (absl::Status st = ids::ValidateId("event_id", e.event_id); !st.ok()) return st;
  }
  const int t = static_cast<int>(e.type);
  if (t <= 0 || t >= kNumEventTypes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "type ", t,
        " is not an event type (VIEW CLICK PLAY PURCHASE RATING LIKE DISLIKE IMPRESSION)"));
  }
  if (!std::isfinite(e.value)) return absl::InvalidArgumentError("value is not finite");
  if (e.type == EventType::kRating) {
    if (e.value < l.min_rating || e.value > l.max_rating) {
      return absl::InvalidArgumentError(absl::StrCat("RATING value ", e.value, " is outside [",
                                                     l.min_rating, ", ", l.max_rating, "]"));
    }
  } else if (e.value < 0 || e.value > 1e6) {
    return absl::InvalidArgumentError(absl::StrCat("value ", e.value, " is outside [0, 1e6]"));
  }
  if (e.timestamp_ms != 0) {
    if (e.timestamp_ms < kYear2000Ms) {
      return absl::InvalidArgumentError(
          absl::StrCat("timestamp_ms ", e.timestamp_ms,
                       " is before 2000-01-01 (milliseconds since the epoch?)"));
    }
    if (e.timestamp_ms > now_ms + l.max_future_ms) {
      return absl::InvalidArgumentError(
          absl::StrCat("timestamp_ms ", e.timestamp_ms, " is more than 24 h in the future"));
    }
  }
  if (e.context.size() > l.max_context_entries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "context has ", e.context.size(), " entries (at most ", l.max_context_entries, ")"));
  }
  for (const auto& [k, v] : e.context) {
    if (k.empty() || k.size() > l.max_context_key) {
      return absl::InvalidArgumentError(
          absl::StrCat("context key of ", k.size(), " bytes (1-", l.max_context_key, ")"));
    }
    if (v.size() > l.max_context_value) {
      return absl::InvalidArgumentError(absl::StrCat("context value of '", k, "' is ", v.size(),
                                                     " bytes (at most ", l.max_context_value, ")"));
    }
  }
  return absl::OkStatus();
}

std::string DeriveEventId(std::string_view user, std::string_view item, EventType type,
                          int64_t ts) {
  std::string key =
      absl::StrCat(S(user), "\x1f", S(item), "\x1f", S(EventTypeName(type)), "\x1f", ts);
  const uint64_t a = Fnv1a(key, 0xcbf29ce484222325ULL);
  const uint64_t b = Fnv1a(key, 0x84222325cbf29ce4ULL ^ a);
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

void Normalize(Event& e, int64_t now_ms, uint64_t random_bits) {
  if (e.event_id.empty()) {
    if (e.timestamp_ms != 0) {
      e.event_id = DeriveEventId(e.user_id, e.item_id, e.type, e.timestamp_ms);
    } else {
      char buf[40];
      std::snprintf(buf, sizeof(buf), "r%016llx%013llx",
                    static_cast<unsigned long long>(random_bits),
                    static_cast<unsigned long long>(now_ms));
      e.event_id = buf;
    }
  }
  if (e.timestamp_ms == 0) e.timestamp_ms = now_ms;
}

double PopularityWeight(EventType type) {
  switch (type) {
    case EventType::kPurchase:
      return 5;
    case EventType::kLike:
      return 3;
    case EventType::kClick:
    case EventType::kPlay:
      return 2;
    case EventType::kView:
    case EventType::kRating:
      return 1;
    default:
      return 0;
  }
}

bool IsInteraction(EventType type) {
  return type != EventType::kImpression && type != EventType::kUnspecified;
}

}  // namespace recstack::events
