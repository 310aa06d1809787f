#include "common/events/event.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace recstack::events {
namespace {

constexpr int64_t kNow = 1767225600000;  // 2026-01-01

events::Event Good() {
  return {.event_id = "e1",
          .user_id = "u1",
          .item_id = "i1",
          .type = events::EventType::kView,
          .value = 1,
          .timestamp_ms = kNow - 1000};
}

std::string Why(const events::Event& e) {
  return std::string(ValidateEvent(e, kNow, {}).message());
}

TEST(Validate, AcceptsAGoodEvent) { EXPECT_TRUE(ValidateEvent(Good(), kNow, {}).ok()); }

TEST(Validate, EveryRuleHasAClearMessage) {
  events::Event e = Good();
  e.user_id = "";
  EXPECT_EQ(Why(e), "user_id is empty");
  e = Good();
  e.item_id = std::string(129, 'x');
  EXPECT_EQ(Why(e), "item_id is 129 bytes (at most 128)");
  e = Good();
  e.user_id = "bad\nid";
  EXPECT_EQ(Why(e), "user_id is not printable UTF-8");
  e = Good();
  e.item_id = "\xc3\x28";  // invalid UTF-8
  EXPECT_EQ(Why(e), "item_id is not printable UTF-8");
  e = Good();
  e.item_id = "caf\xc3\xa9";  // valid UTF-8
  EXPECT_TRUE(ValidateEvent(e, kNow, {}).ok());
  e = Good();
  e.type = events::EventType::kUnspecified;
  EXPECT_NE(Why(e).find("is not an event type"), std::string::npos);
  e = Good();
  e.type = static_cast<events::EventType>(42);
  EXPECT_NE(Why(e).find("type 42"), std::string::npos);
  e = Good();
  e.value = std::nan("");
  EXPECT_EQ(Why(e), "value is not finite");
  e = Good();
  e.type = events::EventType::kRating;
  e.value = 5.5;
  EXPECT_EQ(Why(e), "RATING value 5.5 is outside [0.5, 5]");
  e.value = 0.5;
  EXPECT_TRUE(ValidateEvent(e, kNow, {}).ok());
  e = Good();
  e.value = -1;
  EXPECT_EQ(Why(e), "value -1 is outside [0, 1e6]");
  e = Good();
  e.timestamp_ms = 874724710000;  // 1997
  EXPECT_NE(Why(e).find("before 2000-01-01"), std::string::npos);
  e = Good();
  e.timestamp_ms = kNow + 25LL * 3600 * 1000;
  EXPECT_NE(Why(e).find("more than 24 h in the future"), std::string::npos);
  e = Good();
  for (int i = 0; i < 33; ++i) e.context["k" + std::to_string(i)] = "v";
  EXPECT_EQ(Why(e), "context has 33 entries (at most 32)");
  e = Good();
  e.context["page"] = std::string(300, 'v');
  EXPECT_EQ(Why(e), "context value of 'page' is 300 bytes (at most 256)");
  e = Good();
  e.event_id = std::string(200, 'e');
  EXPECT_EQ(Why(e), "event_id is 200 bytes (at most 128)");
}

events::Event Answer(int n) {
  events::Event e = Good();
  e.type = events::EventType::kImpression;
  e.value = 0;
  for (int i = 0; i < n; ++i)
    e.shown.push_back({"i" + std::to_string(i + 1), i, 0.9, {1.5f, -2.0f, 0.0f}});
  e.item_id = "i1";
  e.context["request_id"] = "r1";
  return e;
}

TEST(Validate, AnAnswersImpressionHoldsUpToFiftyValidItems) {
  EXPECT_TRUE(ValidateEvent(Answer(1), kNow, {}).ok());
  EXPECT_TRUE(ValidateEvent(Answer(50), kNow, {}).ok());
  EXPECT_EQ(Why(Answer(51)), "shown has 51 items (at most 50)");
  events::Event e = Answer(3);
  e.type = events::EventType::kClick;
  EXPECT_EQ(Why(e), "shown is only for IMPRESSION events");
  e = Answer(3);
  e.item_id = "i2";
  EXPECT_EQ(Why(e), "item_id is not the first shown item");
  e = Answer(3);
  e.context["shown"] = "x";
  EXPECT_EQ(Why(e), "context key 'shown' is reserved (an IMPRESSION's items go in shown)");
  e.shown.clear();  // on any IMPRESSION: the log would read it as items
  EXPECT_EQ(Why(e), "context key 'shown' is reserved (an IMPRESSION's items go in shown)");
  e.type = events::EventType::kClick;
  EXPECT_TRUE(ValidateEvent(e, kNow, {}).ok());
  e = Answer(3);
  e.shown[2].item_id = "";
  EXPECT_EQ(Why(e), "shown[2].item_id is empty");
  e = Answer(3);
  e.shown[1].item_id = "bad\tid";
  EXPECT_EQ(Why(e), "shown[1].item_id is not printable UTF-8");
  e = Answer(3);
  e.shown[1].position = 10000;
  EXPECT_EQ(Why(e), "shown[1].position 10000 is outside [0, 9999]");
  e = Answer(3);
  e.shown[0].propensity = 1.5;
  EXPECT_EQ(Why(e), "shown[0].propensity 1.5 is outside [0, 1]");
  e.shown[0].propensity = std::nan("");
  EXPECT_NE(Why(e).find("shown[0].propensity"), std::string::npos);
  e = Answer(3);
  e.shown[1].features.assign(33, 1.0f);
  EXPECT_EQ(Why(e), "shown[1].features has 33 values (at most 32)");
  e.shown[1].features.assign(32, 1.0f);
  EXPECT_TRUE(ValidateEvent(e, kNow, {}).ok());
  e.shown[1].features[5] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(Why(e), "shown[1].features has a value not finite");
}

TEST(Shown, EncodesToTextThatDecodesToTheSameItems) {
  std::vector<ShownItem> shown = {{"i1", 0, 0.7 + 0.3 / 3, {0.1f, -2.5f, 1e-30f, 3.0f}},
                                  {"caf\xc3\xa9 \"x\"", 1, 0.1, {}},
                                  {"i3", 9999, 0, {7.0f}}};
  const std::string text = EncodeShown(shown);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  auto back = DecodeShown(text);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), shown.size());
  for (size_t i = 0; i < shown.size(); ++i) {
    EXPECT_EQ((*back)[i].item_id, shown[i].item_id);
    EXPECT_EQ((*back)[i].position, shown[i].position);
    EXPECT_EQ((*back)[i].propensity, shown[i].propensity);  // exact: shortest round trip
    EXPECT_EQ((*back)[i].features, shown[i].features);
  }
  EXPECT_TRUE(DecodeShown("")->empty());
  EXPECT_EQ(DecodeShown("i1\t0\t1").status().message(), "shown[0] has 3 fields (4)");
  EXPECT_EQ(DecodeShown("i1\t0\t1\t\n\t0\t1\t").status().message(), "shown[1] has no item");
  EXPECT_EQ(DecodeShown("i1\tx\t1\t").status().message(), "shown[0]: position is not a number");
  EXPECT_EQ(DecodeShown("i1\t0\t1\t1,,2").status().message(),
            "shown[0]: feature 2 is not a number");
}

TEST(Normalize, DerivesIdsAndTime) {
  events::Event a = Good();
  a.event_id.clear();
  events::Event b = a;
  events::Normalize(a, kNow, 1);
  events::Normalize(b, kNow, 2);
  EXPECT_EQ(a.event_id, b.event_id);  // same row -> same id
  EXPECT_EQ(a.event_id, events::DeriveEventId("u1", "i1", events::EventType::kView, kNow - 1000));
  EXPECT_EQ(a.event_id.size(), 32u);
  events::Event c = Good();
  c.event_id.clear();
  c.timestamp_ms = 0;
  events::Event d = c;
  events::Normalize(c, kNow, 1);
  events::Normalize(d, kNow, 2);
  EXPECT_NE(c.event_id, d.event_id);  // no id, no time: not deduplicated
  EXPECT_EQ(c.timestamp_ms, kNow);
  EXPECT_NE(DeriveEventId("u1", "i1", events::EventType::kView, 1),
            events::DeriveEventId("u1", "i1", events::EventType::kClick, 1));
}

TEST(EventType, NamesRoundTrip) {
  for (int t = 1; t < events::kNumEventTypes; ++t) {
    events::EventType parsed;
    ASSERT_TRUE(ParseEventType(EventTypeName(static_cast<events::EventType>(t)), &parsed));
    EXPECT_EQ(static_cast<int>(parsed), t);
  }
  events::EventType x;
  EXPECT_FALSE(ParseEventType("SNEEZE", &x));
  EXPECT_EQ(PopularityWeight(EventType::kImpression), 0);
  EXPECT_FALSE(IsInteraction(EventType::kImpression));
}

}  // namespace
}  // namespace recstack::events
