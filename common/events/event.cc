#include "common/events/event.h"

#include <charconv>
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

absl::Status ValidateShown(const Event& e) {
  if (e.type == EventType::kImpression && e.context.contains(kShownContextKey)) {
    return absl::InvalidArgumentError(
        "context key 'shown' is reserved (an IMPRESSION's items go in shown)");
  }
  if (e.shown.empty()) return absl::OkStatus();
  if (e.type != EventType::kImpression) {
    return absl::InvalidArgumentError("shown is only for IMPRESSION events");
  }
  if (e.shown.size() > kMaxShown) {
    return absl::InvalidArgumentError(
        absl::StrCat("shown has ", e.shown.size(), " items (at most ", kMaxShown, ")"));
  }
  if (e.item_id != e.shown.front().item_id) {
    return absl::InvalidArgumentError("item_id is not the first shown item");
  }
  for (size_t i = 0; i < e.shown.size(); ++i) {
    const ShownItem& s = e.shown[i];
    // The item's name for a message, made only when there is one to give
    // (ingestion validates ten of these per Recommend).
    auto at = [i] { return absl::StrCat("shown[", i, "]"); };
    if (!ids::ValidateId("item_id", s.item_id).ok()) {
      return ids::ValidateId(at() + ".item_id", s.item_id);
    }
    if (s.position < 0 || s.position > kMaxShownPosition) {
      return absl::InvalidArgumentError(
          absl::StrCat(at(), ".position ", s.position, " is outside [0, ", kMaxShownPosition, "]"));
    }
    if (!(s.propensity >= 0 && s.propensity <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat(at(), ".propensity ", s.propensity, " is outside [0, 1]"));
    }
    if (s.features.size() > kMaxShownFeatures) {
      return absl::InvalidArgumentError(absl::StrCat(at(), ".features has ", s.features.size(),
                                                     " values (at most ", kMaxShownFeatures, ")"));
    }
    for (float f : s.features) {
      if (!std::isfinite(f)) {
        return absl::InvalidArgumentError(absl::StrCat(at(), ".features has a value not finite"));
      }
    }
  }
  return absl::OkStatus();
}

template <typename T>
void AppendNumber(std::string& out, T v) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, p);
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
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
  return ValidateShown(e);
}

std::string EncodeShown(const std::vector<ShownItem>& shown) {
  std::string out;
  for (size_t i = 0; i < shown.size(); ++i) {
    const ShownItem& s = shown[i];
    if (i > 0) out.push_back('\n');
    out += s.item_id;
    out.push_back('\t');
    AppendNumber(out, s.position);
    out.push_back('\t');
    AppendNumber(out, s.propensity);
    out.push_back('\t');
    for (size_t f = 0; f < s.features.size(); ++f) {
      if (f > 0) out.push_back(',');
      AppendNumber(out, s.features[f]);
    }
  }
  return out;
}

absl::StatusOr<std::vector<ShownItem>> DecodeShown(std::string_view text) {
  std::vector<ShownItem> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const size_t n = out.size();
    auto at = [n] { return absl::StrCat("shown[", n, "]"); };  // for messages only
    std::string_view field[4];
    for (int f = 0; f < 4; ++f) {
      const size_t tab = f < 3 ? line.find('\t') : std::string_view::npos;
      if (f < 3 && tab == std::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(at(), " has ", f + 1, " fields (4)"));
      }
      field[f] = line.substr(0, tab);
      line = tab == std::string_view::npos ? std::string_view() : line.substr(tab + 1);
    }
    ShownItem s;
    s.item_id = std::string(field[0]);
    if (s.item_id.empty()) return absl::InvalidArgumentError(at() + " has no item");
    if (!ParseNumber(field[1], &s.position)) {
      return absl::InvalidArgumentError(at() + ": position is not a number");
    }
    if (!ParseNumber(field[2], &s.propensity)) {
      return absl::InvalidArgumentError(at() + ": propensity is not a number");
    }
    for (std::string_view f = field[3]; !f.empty();) {
      const size_t comma = f.find(',');
      float v = 0;
      if (!ParseNumber(f.substr(0, comma), &v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(at(), ": feature ", s.features.size() + 1, " is not a number"));
      }
      s.features.push_back(v);
      f = comma == std::string_view::npos ? std::string_view() : f.substr(comma + 1);
    }
    out.push_back(std::move(s));
  }
  return out;
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
