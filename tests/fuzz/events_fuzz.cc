// Event validation (common/events/event.h), what ingestion runs on every
// event a client sends, on events built from any bytes. The input is lines:
//   TYPE (a name or a number) \n VALUE \n TIMESTAMP_MS \n EVENT_ID \n USER \n ITEM
//   \n KEY=VALUE (context, one per line)...
// An accepted event must keep every rule of event.h, and Normalize must
// make it storable: a valid event id and a timestamp. The same bytes are
// also read as an IMPRESSION's shown items as the event log keeps them
// (DecodeShown): what decodes re-encodes to text that decodes to the same
// items.
#include <charconv>
#include <cmath>
#include <string>

#include "common/events/event.h"
#include "common/events/ids.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace ev = recstack::events;

constexpr int64_t kNowMs = 1'700'000'000'000;

template <typename T>
T Number(std::string_view s) {
  T v{};
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool Same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

void CheckShownRoundTrip(std::string_view text) {
  auto decoded = ev::DecodeShown(text);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  auto again = ev::DecodeShown(ev::EncodeShown(*decoded));
  FUZZ_CHECK(again.ok() && again->size() == decoded->size());
  for (size_t i = 0; i < decoded->size(); ++i) {
    const ev::ShownItem &a = (*decoded)[i], &b = (*again)[i];
    FUZZ_CHECK(!a.item_id.empty() && a.item_id == b.item_id && a.position == b.position);
    FUZZ_CHECK(Same(a.propensity, b.propensity) && a.features.size() == b.features.size());
    for (size_t f = 0; f < a.features.size(); ++f) FUZZ_CHECK(Same(a.features[f], b.features[f]));
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckShownRoundTrip(std::string_view(reinterpret_cast<const char*>(data), size));
  recstack::fuzz::Input in(data, size);
  ev::Event e;
  const std::string_view type = in.Until("\n");
  if (!ev::ParseEventType(type, &e.type)) e.type = static_cast<ev::EventType>(Number<int>(type));
  e.value = Number<double>(in.Until("\n"));
  e.timestamp_ms = Number<int64_t>(in.Until("\n"));
  e.event_id = in.Until("\n");
  e.user_id = in.Until("\n");
  e.item_id = in.Until("\n");
  while (!in.empty()) {
    const std::string_view kv = in.Until("\n");
    const size_t eq = kv.find('=');
    e.context[std::string(kv.substr(0, eq))] =
        eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1));
  }

  const ev::ValidationLimits limits;
  const absl::Status st = ev::ValidateEvent(e, kNowMs, limits);
  // Any number names a type, the unknown ones as EVENT_TYPE_UNSPECIFIED.
  const std::string_view name = ev::EventTypeName(e.type);
  FUZZ_CHECK(!name.empty());
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  // The rules of event.h, each checked on what was accepted.
  FUZZ_CHECK(recstack::ids::ValidateId("user_id", e.user_id).ok());
  FUZZ_CHECK(recstack::ids::ValidateId("item_id", e.item_id).ok());
  const int t = static_cast<int>(e.type);
  FUZZ_CHECK(t >= 1 && t < ev::kNumEventTypes);
  ev::EventType parsed;
  FUZZ_CHECK(ev::ParseEventType(name, &parsed) && parsed == e.type);
  FUZZ_CHECK(std::isfinite(e.value));
  if (e.type == ev::EventType::kRating) {
    FUZZ_CHECK(e.value >= limits.min_rating && e.value <= limits.max_rating);
  } else {
    FUZZ_CHECK(e.value >= 0 && e.value <= 1e6);
  }
  FUZZ_CHECK(e.timestamp_ms == 0 || (e.timestamp_ms >= ev::kYear2000Ms &&
                                     e.timestamp_ms <= kNowMs + limits.max_future_ms));
  FUZZ_CHECK(e.context.size() <= limits.max_context_entries);
  for (const auto& [k, v] : e.context) {
    FUZZ_CHECK(!k.empty() && k.size() <= limits.max_context_key);
    FUZZ_CHECK(v.size() <= limits.max_context_value);
  }

  // Normalized, it is what the event log stores: an id and a time.
  const bool had_id = !e.event_id.empty(), had_ts = e.timestamp_ms != 0;
  const std::string derived = ev::DeriveEventId(e.user_id, e.item_id, e.type, e.timestamp_ms);
  FUZZ_CHECK(derived.size() == 32);
  FUZZ_CHECK(derived == ev::DeriveEventId(e.user_id, e.item_id, e.type, e.timestamp_ms));
  ev::Normalize(e, kNowMs, 0x0123456789abcdefULL);
  FUZZ_CHECK(recstack::ids::ValidateId("event_id", e.event_id).ok());
  FUZZ_CHECK(e.timestamp_ms != 0);
  if (!had_id && had_ts) FUZZ_CHECK(e.event_id == derived);
  // A normalized event validates again (a client may resend what it got back).
  FUZZ_CHECK(ev::ValidateEvent(e, kNowMs, limits).ok());
  return 0;
}
