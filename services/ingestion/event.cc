#include "services/ingestion/event.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace recstack::ingestion {
namespace {

constexpr std::string_view kNames[kNumEventTypes] = {"EVENT_TYPE_UNSPECIFIED", "VIEW", "CLICK", "PLAY",
                                                     "PURCHASE", "RATING", "LIKE", "DISLIKE", "IMPRESSION"};

std::string S(std::string_view v) { return std::string(v); }

// Valid UTF-8 with no C0/C1 control characters or DEL.
bool PrintableUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    int len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates, beyond Unicode, C1 controls.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || (cp >= 0x80 && cp <= 0x9f)) {
      return false;
    }
    i += len;
  }
  return true;
}

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

absl::Status ValidateId(std::string_view field, std::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(S(field), " is empty"));
  if (id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(S(field), " is ", id.size(), " bytes (at most 128)"));
  }
  if (!PrintableUtf8(id)) {
    return absl::InvalidArgumentError(absl::StrCat(S(field), " is not printable UTF-8"));
  }
  return absl::OkStatus();
}

absl::Status ValidateEvent(const Event& e, int64_t now_ms, const ValidationLimits& l) {
  if (absl::Status st = ValidateId("user_id", e.user_id); !st.ok()) return st;
  if (absl::Status st = ValidateId("item_id", e.item_id); !st.ok()) return st;
  if (!e.event_id.empty()) {
    if (absl::Status st = ValidateId("event_id", e.event_id); !st.ok()) return st;
  }
  const int t = static_cast<int>(e.type);
  if (t <= 0 || t >= kNumEventTypes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "type ", t, " is not an event type (VIEW CLICK PLAY PURCHASE RATING LIKE DISLIKE IMPRESSION)"));
  }
  if (!std::isfinite(e.value)) return absl::InvalidArgumentError("value is not finite");
  if (e.type == EventType::kRating) {
    if (e.value < l.min_rating || e.value > l.max_rating) {
      return absl::InvalidArgumentError(absl::StrCat("RATING value ", e.value, " is outside [", l.min_rating,
                                                     ", ", l.max_rating, "]"));
    }
  } else if (e.value < 0 || e.value > 1e6) {
    return absl::InvalidArgumentError(absl::StrCat("value ", e.value, " is outside [0, 1e6]"));
  }
  if (e.timestamp_ms != 0) {
    if (e.timestamp_ms < kYear2000Ms) {
      return absl::InvalidArgumentError(
          absl::StrCat("timestamp_ms ", e.timestamp_ms, " is before 2000-01-01 (milliseconds since the epoch?)"));
    }
    if (e.timestamp_ms > now_ms + l.max_future_ms) {
      return absl::InvalidArgumentError(absl::StrCat("timestamp_ms ", e.timestamp_ms,
                                                     " is more than 24 h in the future"));
    }
  }
  if (e.context.size() > l.max_context_entries) {
    return absl::InvalidArgumentError(
        absl::StrCat("context has ", e.context.size(), " entries (at most ", l.max_context_entries, ")"));
  }
  for (const auto& [k, v] : e.context) {
    if (k.empty() || k.size() > l.max_context_key) {
      return absl::InvalidArgumentError(absl::StrCat("context key of ", k.size(), " bytes (1-", l.max_context_key, ")"));
    }
    if (v.size() > l.max_context_value) {
      return absl::InvalidArgumentError(
          absl::StrCat("context value of '", k, "' is ", v.size(), " bytes (at most ", l.max_context_value, ")"));
    }
  }
  return absl::OkStatus();
}

std::string DeriveEventId(std::string_view user, std::string_view item, EventType type, int64_t ts) {
  std::string key = absl::StrCat(S(user), "\x1f", S(item), "\x1f", S(EventTypeName(type)), "\x1f", ts);
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
      std::snprintf(buf, sizeof(buf), "r%016llx%013llx", static_cast<unsigned long long>(random_bits),
                    static_cast<unsigned long long>(now_ms));
      e.event_id = buf;
    }
  }
  if (e.timestamp_ms == 0) e.timestamp_ms = now_ms;
}

double PopularityWeight(EventType type) {
  switch (type) {
    case EventType::kPurchase: return 5;
    case EventType::kLike: return 3;
    case EventType::kClick:
    case EventType::kPlay: return 2;
    case EventType::kView:
    case EventType::kRating: return 1;
    default: return 0;
  }
}

bool IsInteraction(EventType type) { return type != EventType::kImpression && type != EventType::kUnspecified; }

}  // namespace recstack::ingestion
