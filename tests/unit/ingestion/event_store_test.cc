// EventStore and batch validation without Redis: the store over an
// in-memory EventStorage that keeps the contract of the write script
// (markers, log, capped history, hourly and trending counts), each
// expectation worked out by hand from DESIGN §2-3.
#include "services/ingestion/event_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace recstack::ingestion {
namespace {

using events::EventType;

constexpr int64_t kNow = 1767225600000;  // 2026-01-01, on an hour
constexpr int64_t kHour = 3'600'000;

class FakeEventStorage final : public EventStorage {
 public:
  absl::StatusOr<Appended> Append(std::span<const events::Event> events,
                                  const StoreOptions& options) override {
    ++appends;
    if (!fail.ok()) return fail;
    Appended out;
    for (const events::Event& e : events) {
      if (!markers.insert(e.event_id).second) {
        out.outcomes.push_back(Outcome::kDuplicate);
        continue;
      }
      log.push_back(e);
      if (events::IsInteraction(e.type)) {
        auto& h = history[e.user_id];
        h[e.item_id] = std::max(h[e.item_id], e.timestamp_ms);  // ZADD GT
        while (static_cast<int64_t>(h.size()) > options.history_cap) {
          h.erase(std::min_element(h.begin(), h.end(), [](const auto& a, const auto& b) {
                    return a.second < b.second;
                  })->first);
        }
      }
      const double w = events::PopularityWeight(e.type);
      if (w > 0) {
        hourly[e.timestamp_ms / kHour][e.item_id] += w;
        trend[e.item_id] += w;  // no decay: the tests read at the events' time
      }
      out.outcomes.push_back(Outcome::kAccepted);
    }
    out.replicas = options.wait_replicas > 0 ? replicas : 0;
    return out;
  }
  absl::StatusOr<std::vector<HistoryEntry>> History(std::string_view user, int limit) override {
    limits.push_back(limit);
    if (!fail.ok()) return fail;
    std::vector<HistoryEntry> out;
    for (const auto& [item, ts] : history[std::string(user)]) out.push_back({item, ts});
    std::sort(out.begin(), out.end(), [](const HistoryEntry& a, const HistoryEntry& b) {
      return a.timestamp_ms != b.timestamp_ms ? a.timestamp_ms > b.timestamp_ms
                                              : a.item_id > b.item_id;
    });
    if (static_cast<int>(out.size()) > limit) out.resize(limit);
    return out;
  }
  absl::StatusOr<redis::ItemCounts> TopTrending(int64_t, int k) override {
    ++top_reads;
    if (!fail.ok()) return fail;
    redis::ItemCounts all = Sorted(trend);
    if (static_cast<int>(all.size()) > k) all.resize(k);
    return all;
  }
  absl::StatusOr<redis::ItemCounts> SumPopularity(int64_t now_ms, int window_hours) override {
    ++window_reads;
    if (!fail.ok()) return fail;
    std::map<std::string, double> sums;
    for (int h = 0; h < window_hours; ++h) {
      for (const auto& [item, w] : hourly[now_ms / kHour - h]) sums[item] += w;
    }
    return Sorted(sums);
  }
  absl::Status PutItems(const std::vector<ItemRecord>& items_in) override {
    ++item_writes;
    if (!fail.ok()) return fail;
    for (const ItemRecord& it : items_in) items[it.item_id] = it;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<ItemRecord>> GetItems(const std::vector<std::string>& ids) override {
    ++item_reads;
    if (!fail.ok()) return fail;
    std::vector<ItemRecord> out;
    for (const auto& id : ids) {
      if (auto it = items.find(id); it != items.end()) out.push_back(it->second);
    }
    return out;
  }
  absl::Status Ping() override { return fail; }

  static redis::ItemCounts Sorted(const std::map<std::string, double>& counts) {
    redis::ItemCounts out(counts.begin(), counts.end());
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    return out;
  }

  absl::Status fail;  // every call fails with it when set
  int replicas = 0;   // what Append reports when asked to wait
  std::set<std::string> markers;
  std::vector<events::Event> log;
  std::map<std::string, std::map<std::string, int64_t>> history;
  std::map<int64_t, std::map<std::string, double>> hourly;
  std::map<std::string, double> trend;
  std::map<std::string, ItemRecord> items;
  std::vector<int> limits;
  int appends = 0, top_reads = 0, window_reads = 0, item_writes = 0, item_reads = 0;
};

events::Event Ev(std::string id, std::string user, std::string item, EventType type,
                 int64_t ts = kNow - 1000) {
  return {.event_id = std::move(id),
          .user_id = std::move(user),
          .item_id = std::move(item),
          .type = type,
          .value = 0,
          .timestamp_ms = ts,
          .context = {}};
}

class EventStoreTest : public ::testing::Test {
 protected:
  EventStore Store(StoreOptions options = {}) { return EventStore(storage_, options, clock_); }

  FakeEventStorage storage_;
  ManualClock clock_{kNow};
};

TEST_F(EventStoreTest, DuplicateIdsAreReportedAndWriteNothing) {
  EventStore store = Store();
  // The second e1 names another item: a marker, not the payload, decides.
  auto first =
      store.Write({Ev("e1", "u1", "i1", EventType::kClick), Ev("e1", "u1", "i2", EventType::kClick),
                   Ev("e2", "u1", "i3", EventType::kView)});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first,
            (std::vector<Outcome>{Outcome::kAccepted, Outcome::kDuplicate, Outcome::kAccepted}));
  // A retried batch is all duplicates and changes no count.
  auto again = store.Write(
      {Ev("e1", "u1", "i1", EventType::kClick), Ev("e2", "u1", "i3", EventType::kView)});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, (std::vector<Outcome>{Outcome::kDuplicate, Outcome::kDuplicate}));
  EXPECT_EQ(storage_.log.size(), 2u);
  auto history = store.History("u1", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].item_id, "i3");  // same time: ZREVRANGE's reverse id order
  EXPECT_EQ((*history)[1].item_id, "i1");
  auto trending = store.Trending(10, 0);
  ASSERT_TRUE(trending.ok());
  ASSERT_EQ(trending->size(), 2u);
  EXPECT_EQ((*trending)[0].item_id, "i1");
  EXPECT_DOUBLE_EQ((*trending)[0].score, 2.0);  // one CLICK, not two
  EXPECT_DOUBLE_EQ((*trending)[1].score, 1.0);
}

TEST_F(EventStoreTest, EachTypeWritesItsHistoryAndPopularity) {
  EventStore store = Store();
  const EventType types[] = {EventType::kView,     EventType::kClick,     EventType::kPlay,
                             EventType::kPurchase, EventType::kRating,    EventType::kLike,
                             EventType::kDislike,  EventType::kImpression};
  std::vector<events::Event> batch;
  for (EventType t : types) {
    const std::string name(events::EventTypeName(t));
    batch.push_back(Ev("e-" + name, "u1", "item-" + name, t));
  }
  ASSERT_TRUE(store.Write(batch).ok());
  // Every interaction enters the history; an IMPRESSION does not.
  auto history = store.History("u1", 100);
  ASSERT_TRUE(history.ok());
  std::set<std::string> in_history;
  for (const auto& h : *history) in_history.insert(h.item_id);
  EXPECT_EQ(in_history,
            (std::set<std::string>{"item-VIEW", "item-CLICK", "item-PLAY", "item-PURCHASE",
                                   "item-RATING", "item-LIKE", "item-DISLIKE"}));
  // Popularity weights: PURCHASE 5, LIKE 3, CLICK and PLAY 2, VIEW and
  // RATING 1; DISLIKE and IMPRESSION add nothing (not even a zero entry).
  auto trending = store.Trending(100, 0);
  ASSERT_TRUE(trending.ok());
  std::map<std::string, double> got;
  for (const auto& s : *trending) got[s.item_id] = s.score;
  EXPECT_EQ(got, (std::map<std::string, double>{{"item-PURCHASE", 5},
                                                {"item-LIKE", 3},
                                                {"item-CLICK", 2},
                                                {"item-PLAY", 2},
                                                {"item-VIEW", 1},
                                                {"item-RATING", 1}}));
  // Every accepted event is in the log, whatever its type.
  EXPECT_EQ(storage_.log.size(), 8u);
}

TEST_F(EventStoreTest, EmptyBatchesTouchNoStorage) {
  EventStore store = Store();
  auto out = store.Write({});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
  EXPECT_TRUE(store.UpsertItems({}).ok());
  auto items = store.GetItems({});
  ASSERT_TRUE(items.ok());
  EXPECT_TRUE(items->empty());
  EXPECT_EQ(storage_.appends + storage_.item_writes + storage_.item_reads, 0);
}

TEST_F(EventStoreTest, AStorageFailureFailsTheWholeBatch) {
  EventStore store = Store();
  storage_.fail = absl::UnavailableError("redis: connection refused");
  auto out = store.Write({Ev("e1", "u1", "i1", EventType::kClick)});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.Trending(5, 0).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.History("u1", 5).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.Ping().code(), absl::StatusCode::kUnavailable);
}

TEST_F(EventStoreTest, TooFewReplicasIsNotAcknowledged) {
  StoreOptions o;
  o.wait_replicas = 2;
  EventStore store = Store(o);
  storage_.replicas = 1;
  auto out = store.Write({Ev("e1", "u1", "i1", EventType::kClick)});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(out.status().message().find("on 1 of 2 replicas"), std::string::npos) << out.status();
  // The retry, once replicated, finds it written: a duplicate, acknowledged.
  storage_.replicas = 2;
  auto retry = store.Write({Ev("e1", "u1", "i1", EventType::kClick)});
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(*retry, std::vector<Outcome>{Outcome::kDuplicate});
}

TEST_F(EventStoreTest, HistoryIsNewestFirstCappedAndItsLimitClamped) {
  StoreOptions o;
  o.history_cap = 3;
  EventStore store = Store(o);
  std::vector<events::Event> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back(Ev("e" + std::to_string(i), "u1", "i" + std::to_string(i), EventType::kView,
                       kNow - 10'000 + i));
  }
  ASSERT_TRUE(store.Write(batch).ok());
  auto h = store.History("u1", 10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);  // the newest history_cap
  EXPECT_EQ((*h)[0].item_id, "i4");
  EXPECT_EQ((*h)[0].timestamp_ms, kNow - 10'000 + 4);
  EXPECT_EQ((*h)[2].item_id, "i2");
  ASSERT_TRUE(store.History("u1", 0).ok());
  ASSERT_TRUE(store.History("u1", 5000).ok());
  EXPECT_EQ(storage_.limits, (std::vector<int>{10, 1, 1000}));
}

TEST_F(EventStoreTest, WindowSumsAreSharedAndTheDecayedCountsReadFresh) {
  EventStore store = Store();
  // Three hours of events: i1 in the current hour, i2 an hour ago, i3 two.
  ASSERT_TRUE(store
                  .Write({Ev("a", "u1", "i1", EventType::kPurchase, kNow + 10),
                          Ev("b", "u2", "i2", EventType::kView, kNow - kHour + 10),
                          Ev("c", "u3", "i3", EventType::kLike, kNow - 2 * kHour + 10)})
                  .ok());
  clock_.SetMs(kNow + 20);
  auto two_hours = store.Trending(10, 2);
  ASSERT_TRUE(two_hours.ok());
  ASSERT_EQ(two_hours->size(), 2u);
  EXPECT_EQ((*two_hours)[0].item_id, "i1");
  EXPECT_DOUBLE_EQ((*two_hours)[0].score, 5);
  EXPECT_EQ((*two_hours)[1].item_id, "i2");
  // The same window again within window_cache_ttl: shared, even after a
  // new event; k still cuts it.
  ASSERT_TRUE(store.Write({Ev("d", "u4", "i2", EventType::kPurchase, kNow + 15)}).ok());
  auto again = store.Trending(1, 2);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].item_id, "i1");
  EXPECT_EQ(storage_.window_reads, 1);
  // Another window is its own read; the decayed counts are read every time.
  ASSERT_TRUE(store.Trending(10, 3).ok());
  EXPECT_EQ(storage_.window_reads, 2);
  auto decayed = store.Trending(2, 0);
  ASSERT_TRUE(decayed.ok());
  ASSERT_EQ(decayed->size(), 2u);
  EXPECT_EQ((*decayed)[0].item_id, "i2");  // 1 + 5 since the new purchase
  EXPECT_DOUBLE_EQ((*decayed)[0].score, 6);
  ASSERT_TRUE(store.Trending(2, 0).ok());
  EXPECT_EQ(storage_.top_reads, 2);
}

TEST(CheckBatch, RejectionsNameTheFieldAndKeepTheirIndex) {
  events::Event rating = Ev("e4", "u1", "i1", EventType::kRating);
  rating.value = 9;
  events::Event unnamed = Ev("", "u1", "i2", EventType::kClick, kNow - 5000);
  events::Event untimed = Ev("", "u1", "i3", EventType::kView, 0);
  std::vector<events::Event> batch = {Ev("e1", "u1", "i1", EventType::kView),
                                      Ev("e2", "", "i1", EventType::kView),
                                      Ev("e3", "u1", "i1", EventType::kUnspecified),
                                      rating,
                                      unnamed,
                                      untimed};
  int draws = 0;
  const std::vector<Rejection> rejected =
      CheckBatch(batch, kNow, {}, [&] { return static_cast<uint64_t>(++draws); });
  ASSERT_EQ(rejected.size(), 3u);
  EXPECT_EQ(rejected[0].index, 1);
  EXPECT_EQ(rejected[0].event_id, "e2");
  EXPECT_EQ(rejected[0].reason, "user_id is empty");
  EXPECT_EQ(rejected[1].index, 2);
  EXPECT_EQ(rejected[1].type, EventType::kUnspecified);
  EXPECT_NE(rejected[1].reason.find("is not an event type"), std::string::npos)
      << rejected[1].reason;
  EXPECT_EQ(rejected[2].index, 3);
  EXPECT_EQ(rejected[2].reason, "RATING value 9 is outside [0.5, 5]");
  // The valid ones stay, in order, normalized: a row with a time gets the
  // id derived from it, one without gets now and a random id.
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].event_id, "e1");
  EXPECT_EQ(batch[1].event_id, events::DeriveEventId("u1", "i2", EventType::kClick, kNow - 5000));
  EXPECT_EQ(batch[2].item_id, "i3");
  EXPECT_EQ(batch[2].timestamp_ms, kNow);
  EXPECT_EQ(batch[2].event_id.rfind("r0000000000000003", 0), 0u) << batch[2].event_id;
  EXPECT_EQ(draws, 3);  // one per valid event (the third's), none for the rejected
}

TEST(CheckBatch, SizeIsOneToMaxBatch) {
  EXPECT_EQ(CheckBatchSize(0).message(), "the batch has no events");
  EXPECT_TRUE(CheckBatchSize(1).ok());
  EXPECT_TRUE(CheckBatchSize(kMaxBatch).ok());
  absl::Status over = CheckBatchSize(kMaxBatch + 1);
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(over.message(), "the batch has 10001 events (at most 10000)");
}

TEST(ValidateItem, EachRuleNamesItsField) {
  ItemRecord good{.item_id = "i1", .title = "Heat", .categories = {"crime"}, .attributes = {}};
  EXPECT_TRUE(ValidateItem(good).ok());
  ItemRecord it = good;
  it.item_id = "";
  EXPECT_EQ(ValidateItem(it).message(), "item_id is empty");
  it = good;
  it.title = std::string(1025, 't');
  EXPECT_EQ(ValidateItem(it).message(), "title is over 1024 bytes");
  it.title = std::string(1024, 't');
  EXPECT_TRUE(ValidateItem(it).ok());
  it = good;
  it.categories.assign(33, "c");
  EXPECT_EQ(ValidateItem(it).message(), "more than 32 categories");
  it = good;
  for (int i = 0; i < 33; ++i) it.attributes["a" + std::to_string(i)] = "v";
  EXPECT_EQ(ValidateItem(it).message(), "more than 32 attributes");
  EXPECT_EQ(ValidateItem(it).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recstack::ingestion
