// The ingestion service over real gRPC on loopback, against a real redis-server.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/data/loaders.h"
#include "common/events/event.h"
#include "common/grpc/channel.h"
#include "common/overload/limiter.h"
#include "common/redis/popularity.h"
#include "common/redis/subscriber.h"
#include "recstack/v1/ingestion.grpc.pb.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/redis_event_storage.h"
#include "tests/support/grpc/in_process_server.h"
#include "tests/support/redis/redis_server.h"

namespace recstack::ingestion {
namespace {

using namespace std::chrono_literals;

class IngestionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<redis::Pool>(redis_.options(), 4);
    storage_ = std::make_unique<RedisEventStorage>(*pool_, redis::Keyspace());
    store_ = std::make_unique<EventStore>(*storage_, StoreOptions{}, clock_);
    registry_ = std::make_shared<prometheus::Registry>();
    service_ = std::make_unique<IngestionServiceImpl>(*store_, clock_, events::ValidationLimits{},
                                                      *registry_);
    server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{service_.get()});
    stub_ = v1::IngestionService::NewStub(server_->channel());
  }

  grpc::Status Ingest(const v1::IngestEventsRequest& req, v1::IngestEventsResponse* resp) {
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, 10s);
    return stub_->IngestEvents(&ctx, req, resp);
  }

  static v1::Event MakeEvent(const std::string& id, const std::string& user,
                             const std::string& item, int64_t ts = 1767225000000) {
    v1::Event e;
    e.set_event_id(id);
    e.set_user_id(user);
    e.set_item_id(item);
    e.set_type(v1::VIEW);
    e.set_value(1);
    e.set_timestamp_ms(ts);
    return e;
  }

  // The fields of the event log's first entry (empty when there is none).
  std::map<std::string, std::string> FirstStreamEntry() {
    std::map<std::string, std::string> f;
    auto entry = pool_->Command({"XRANGE", "rs:events", "-", "+", "COUNT", "1"});
    if (!entry.ok() || entry->elements.empty()) return f;
    const auto& fields = entry->elements[0].elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) f[fields[i].str] = fields[i + 1].str;
    return f;
  }

  int64_t StreamLength() {
    auto r = pool_->Command({"XLEN", "rs:events"});
    return r.ok() ? r->integer : -1;
  }

  testing::RedisServer redis_{testing::RedisServerOptions{.persistent = true}};
  ManualClock clock_{1767225600000};
  std::unique_ptr<redis::Pool> pool_;
  std::unique_ptr<RedisEventStorage> storage_;
  std::unique_ptr<EventStore> store_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<IngestionServiceImpl> service_;
  std::unique_ptr<testing::InProcessServer> server_;
  std::unique_ptr<v1::IngestionService::Stub> stub_;
};

TEST_F(IngestionTest, MixedBatchWritesExactlyTheValidEvents) {
  v1::IngestEventsRequest req;
  *req.add_events() = MakeEvent("a", "u1", "i1");
  *req.add_events() = MakeEvent("b", "", "i2");  // no user
  *req.add_events() = MakeEvent("c", "u1", "i3");
  v1::Event bad_rating = MakeEvent("d", "u2", "i1");
  bad_rating.set_type(v1::RATING);
  bad_rating.set_value(9);
  *req.add_events() = bad_rating;
  v1::IngestEventsResponse resp;
  ASSERT_TRUE(Ingest(req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 2);
  ASSERT_EQ(resp.rejected_size(), 2);
  EXPECT_EQ(resp.rejected(0).index(), 1);
  EXPECT_EQ(resp.rejected(0).reason(), "user_id is empty");
  EXPECT_EQ(resp.rejected(1).index(), 3);
  EXPECT_NE(resp.rejected(1).reason().find("RATING value 9"), std::string::npos);
  EXPECT_EQ(StreamLength(), 2);
  // The stream entry carries the documented fields.
  std::map<std::string, std::string> f = FirstStreamEntry();
  EXPECT_EQ(f["id"], "a");
  EXPECT_EQ(f["user"], "u1");
  EXPECT_EQ(f["item"], "i1");
  EXPECT_EQ(f["type"], "VIEW");
  EXPECT_EQ(f["ts"], "1767225000000");
}

// One IMPRESSION per answer: its items go in `shown`; the event log keeps
// them under the context key "shown" (events::EncodeShown), item_id is the
// first one, a bad item is rejected by index with its reason and the rest
// of the batch is kept.
TEST_F(IngestionTest, AnAnswersImpressionKeepsEveryItemShownInTheLog) {
  v1::IngestEventsRequest req;
  v1::Event imp = MakeEvent("imp-r1-0", "u1", "", 1767225600000 - 100);
  imp.set_type(v1::IMPRESSION);
  (*imp.mutable_context())["request_id"] = "r1";
  for (int i = 0; i < 3; ++i) {
    v1::ShownItem* s = imp.add_shown();
    s->set_item_id("i" + std::to_string(i));
    s->set_position(i);
    s->set_propensity(0.5);
    s->add_features(1.25f * i);
  }
  *req.add_events() = imp;
  v1::Event bad = imp;
  bad.set_event_id("imp-r2-0");
  bad.mutable_shown(1)->set_position(-1);
  *req.add_events() = bad;
  v1::Event click = MakeEvent("c", "u1", "i1", 1767225600000 - 50);
  click.set_type(v1::CLICK);
  (*click.mutable_context())["shown"] = "x";  // reserved only on IMPRESSIONs
  *req.add_events() = click;
  v1::IngestEventsResponse resp;
  ASSERT_TRUE(Ingest(req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 2);
  ASSERT_EQ(resp.rejected_size(), 1);
  EXPECT_EQ(resp.rejected(0).index(), 1);
  EXPECT_EQ(resp.rejected(0).reason(), "shown[1].position -1 is outside [0, 9999]");
  std::map<std::string, std::string> f = FirstStreamEntry();
  EXPECT_EQ(f["type"], "IMPRESSION");
  EXPECT_EQ(f["item"], "i0");
  const auto ctx = nlohmann::json::parse(f["ctx"]);
  EXPECT_EQ(ctx["request_id"], "r1");
  auto shown = events::DecodeShown(ctx["shown"].get<std::string>());
  ASSERT_TRUE(shown.ok()) << shown.status();
  ASSERT_EQ(shown->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*shown)[i].item_id, "i" + std::to_string(i));
    EXPECT_EQ((*shown)[i].position, i);
    EXPECT_EQ((*shown)[i].propensity, 0.5);
    EXPECT_EQ((*shown)[i].features, std::vector<float>{1.25f * i});
  }
  // Not an interaction: no history for it.
  auto hist = pool_->Command({"ZCARD", "rs:hist:u1"});
  ASSERT_TRUE(hist.ok());
  EXPECT_EQ(hist->integer, 1);  // the click only
}

TEST_F(IngestionTest, DuplicatesWithinAndAcrossBatches) {
  v1::IngestEventsRequest req;
  *req.add_events() = MakeEvent("x", "u1", "i1");
  *req.add_events() = MakeEvent("x", "u1", "i1");
  v1::IngestEventsResponse resp;
  ASSERT_TRUE(Ingest(req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 1);
  EXPECT_EQ(resp.duplicates(), 1);
  resp.Clear();
  ASSERT_TRUE(Ingest(req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 0);
  EXPECT_EQ(resp.duplicates(), 2);
  EXPECT_EQ(StreamLength(), 1);
}

// The write announces the users whose histories it changed on
// rs:users:updates (retrieval's history cache forgets them): each once per
// script call, after the write; not a duplicate's user, nor an impression's
// (no history), nor a rejected event's.
TEST_F(IngestionTest, AWriteAnnouncesTheUsersWhoseHistoriesItChanged) {
  std::mutex mu;
  std::vector<std::string> messages;
  std::vector<int64_t> lengths_seen;  // u1's history length when each message arrived
  redis::Subscriber sub(redis_.options(), {redis::Keyspace().UserUpdates()},
                        [&](std::string_view, std::string_view message) {
                          auto len = pool_->Command({"ZCARD", "rs:hist:u1"});
                          std::lock_guard<std::mutex> lock(mu);
                          messages.emplace_back(message);
                          lengths_seen.push_back(len.ok() ? len->integer : -1);
                        });
  std::atomic<bool> subscribed{false};
  sub.set_on_subscribed([&] { subscribed = true; });
  sub.Start();
  for (int i = 0; i < 500 && !subscribed; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(subscribed);
  v1::IngestEventsRequest req;
  *req.add_events() = MakeEvent("a", "u1", "i1");
  *req.add_events() = MakeEvent("b", "u2", "i1");
  *req.add_events() = MakeEvent("c", "u1", "i2");
  *req.add_events() = MakeEvent("d", "", "i2");  // rejected
  v1::Event imp = MakeEvent("e", "u3", "i1");
  imp.set_type(v1::IMPRESSION);
  imp.clear_item_id();
  v1::ShownItem* shown = imp.add_shown();
  shown->set_item_id("i1");
  shown->set_propensity(0.5);
  *req.add_events() = imp;
  v1::IngestEventsResponse resp;
  ASSERT_TRUE(Ingest(req, &resp).ok());
  ASSERT_EQ(resp.accepted(), 4) << resp.DebugString();
  // Again: duplicates all, nothing changed, nothing announced.
  resp.Clear();
  ASSERT_TRUE(Ingest(req, &resp).ok());
  ASSERT_EQ(resp.duplicates(), 4);
  *req.mutable_events(0) = MakeEvent("f", "u1", "i3");
  req.mutable_events()->DeleteSubrange(1, 4);
  ASSERT_TRUE(Ingest(req, &resp).ok());
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (messages.size() >= 2) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(100ms);  // anything more would have come by now
  sub.Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(messages.size(), 2u);
  std::vector<std::string_view> first = redis::ParseUpdates(messages[0]);
  std::sort(first.begin(), first.end());
  EXPECT_EQ(first, (std::vector<std::string_view>{"u1", "u2"}));
  EXPECT_EQ(messages[1], "u1");
  // Each announcement was heard after its write: the history already held
  // it (and maybe the next write's too, by the time it was read).
  ASSERT_EQ(lengths_seen.size(), 2u);
  EXPECT_GE(lengths_seen[0], 2);
  EXPECT_EQ(lengths_seen[1], 3);
}

TEST_F(IngestionTest, BadBatchesAreInvalidArgument) {
  v1::IngestEventsResponse resp;
  auto st = Ingest(v1::IngestEventsRequest(), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "the batch has no events");
  v1::IngestEventsRequest big;
  for (int i = 0; i < kMaxBatch + 1; ++i)
    *big.add_events() = MakeEvent("e" + std::to_string(i), "u", "i");
  st = Ingest(big, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "the batch has 10001 events (at most 10000)");
  v1::IngestEventsRequest all_bad;
  *all_bad.add_events() = MakeEvent("z", "u1", "");
  st = Ingest(all_bad, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("item_id is empty"), std::string::npos);
  // A message over the 16 MiB limit is refused by gRPC before the handler.
  v1::IngestEventsRequest huge;
  for (int i = 0; i < 200; ++i) {
    v1::Event e = MakeEvent("h" + std::to_string(i), "u", "i");
    (*e.mutable_context())["blob"] = std::string(100'000, 'x');
    *huge.add_events() = e;
  }
  st = Ingest(huge, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(StreamLength(), 0);
  // The service keeps serving.
  v1::IngestEventsRequest ok;
  *ok.add_events() = MakeEvent("fine", "u", "i");
  EXPECT_TRUE(Ingest(ok, &resp).ok());
}

TEST_F(IngestionTest, RedisOutageIsUnavailableAndRetryLeavesEachEventOnce) {
  v1::IngestEventsRequest req;
  for (int i = 0; i < 50; ++i)
    *req.add_events() = MakeEvent("r" + std::to_string(i), "u" + std::to_string(i % 5), "i");
  v1::IngestEventsResponse resp;
  // Half the batch lands first (as if an earlier attempt died midway).
  v1::IngestEventsRequest first_half;
  for (int i = 0; i < 25; ++i) *first_half.add_events() = req.events(i);
  ASSERT_TRUE(Ingest(first_half, &resp).ok());
  redis_.Stop();
  auto st = Ingest(req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  ASSERT_TRUE(redis_.Start().ok());
  grpc::Status retry;
  for (int attempt = 0; attempt < 50; ++attempt) {
    resp.Clear();
    retry = Ingest(req, &resp);
    if (retry.ok()) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(retry.ok()) << retry.error_message();
  // The restarted server kept the first half (AOF): the retry stores the
  // rest and counts the first half as duplicates.
  EXPECT_EQ(resp.accepted(), 25);
  EXPECT_EQ(resp.duplicates(), 25);
  EXPECT_EQ(StreamLength(), 50);
  resp.Clear();
  ASSERT_TRUE(Ingest(req, &resp).ok());
  EXPECT_EQ(resp.duplicates(), 50);
  EXPECT_EQ(StreamLength(), 50);
}

TEST_F(IngestionTest, HistoryTrendingAndItems) {
  v1::IngestEventsRequest req;
  *req.add_events() = MakeEvent("1", "u1", "old", 1767225600000 - 3'600'000);
  *req.add_events() = MakeEvent("2", "u1", "new", 1767225600000 - 1000);
  v1::Event buy = MakeEvent("3", "u2", "new", 1767225600000 - 500);
  buy.set_type(v1::PURCHASE);
  *req.add_events() = buy;
  v1::Event imp = MakeEvent("4", "u1", "shown", 1767225600000 - 100);
  imp.set_type(v1::IMPRESSION);
  *req.add_events() = imp;
  v1::IngestEventsResponse resp;
  ASSERT_TRUE(Ingest(req, &resp).ok());
  ASSERT_EQ(resp.accepted(), 4);
  {
    grpc::ClientContext ctx;
    v1::GetUserHistoryRequest h;
    h.set_user_id("u1");
    v1::GetUserHistoryResponse hr;
    ASSERT_TRUE(stub_->GetUserHistory(&ctx, h, &hr).ok());
    ASSERT_EQ(hr.entries_size(), 2);  // the impression is not an interaction
    EXPECT_EQ(hr.entries(0).item_id(), "new");
    EXPECT_EQ(hr.entries(1).item_id(), "old");
  }
  {
    grpc::ClientContext ctx;
    v1::GetTrendingRequest t;
    t.set_k(5);
    v1::GetTrendingResponse tr;
    ASSERT_TRUE(stub_->GetTrending(&ctx, t, &tr).ok());
    ASSERT_EQ(tr.items_size(), 2);
    EXPECT_EQ(tr.items(0).item_id(), "new");
    // Decayed counts (half-life 24 h) as of the clock: VIEW 1 + PURCHASE 5.
    const double hl = 24 * 3'600'000.0;
    EXPECT_NEAR(tr.items(0).score(), 1 * std::exp2(-1000 / hl) + 5 * std::exp2(-500 / hl), 1e-9);
    EXPECT_EQ(tr.items(1).item_id(), "old");
    EXPECT_NEAR(tr.items(1).score(), std::exp2(-3'600'000 / hl), 1e-9);
  }
  {
    // An exact window of hourly counts (the admin path).
    grpc::ClientContext ctx;
    v1::GetTrendingRequest t;
    t.set_k(5);
    t.set_window_hours(24);
    v1::GetTrendingResponse tr;
    ASSERT_TRUE(stub_->GetTrending(&ctx, t, &tr).ok());
    ASSERT_EQ(tr.items_size(), 2);
    EXPECT_EQ(tr.items(0).item_id(), "new");
    EXPECT_EQ(tr.items(0).score(), 6);
  }
  {
    grpc::ClientContext ctx;
    v1::UpsertItemsRequest u;
    auto* it = u.add_items();
    it->set_item_id("new");
    it->set_title("New Thing");
    it->add_categories("Drama");
    it->add_categories("War");
    u.add_items()->set_item_id("");
    v1::UpsertItemsResponse ur;
    ASSERT_TRUE(stub_->UpsertItems(&ctx, u, &ur).ok());
    EXPECT_EQ(ur.upserted(), 1);
    ASSERT_EQ(ur.rejected_size(), 1);
    grpc::ClientContext ctx2;
    v1::GetItemsRequest g;
    g.add_item_ids("nope");
    g.add_item_ids("new");
    v1::GetItemsResponse gr;
    ASSERT_TRUE(stub_->GetItems(&ctx2, g, &gr).ok());
    ASSERT_EQ(gr.items_size(), 1);
    EXPECT_EQ(gr.items(0).title(), "New Thing");
    EXPECT_EQ(gr.items(0).categories_size(), 2);
  }
}

// The decayed trending counts against their closed form: an event of
// weight w at time ts counts w * 2^((ts - now) / half_life) at `now`,
// whatever order the events arrive in, and across the rescale that moves
// the epoch once scores pass 2^64.
TEST_F(IngestionTest, DecayedTrendingMatchesTheClosedFormAcrossARescale) {
  const int64_t hl = 3'600'000;  // one hour
  StoreOptions o;
  o.trending_half_life_ms = hl;
  RedisEventStorage storage(*pool_, redis::Keyspace("d:"));
  EventStore store(storage, o, clock_);
  const int64_t t0 = 1767225600000;
  auto event = [](std::string id, std::string item, int64_t ts, events::EventType type) {
    events::Event e;
    e.event_id = std::move(id);
    e.user_id = "u";
    e.item_id = std::move(item);
    e.type = type;
    e.value = 1;
    e.timestamp_ms = ts;
    return e;
  };
  // Out of order on purpose: the newest first.
  ASSERT_TRUE(store
                  .Write({event("1", "a", t0, events::EventType::kView),
                          event("2", "b", t0 - hl, events::EventType::kPurchase),
                          event("3", "a", t0 - 2 * hl, events::EventType::kLike),
                          event("4", "c", t0 - hl / 2, events::EventType::kView)})
                  .ok());
  auto top = redis::TopTrending(*pool_, redis::Keyspace("d:"), t0, 10);
  ASSERT_TRUE(top.ok()) << top.status();
  ASSERT_EQ(top->size(), 3u);
  // b: 5 * 2^-1 = 2.5; a: 1 + 3 * 2^-2 = 1.75; c: 2^-0.5.
  EXPECT_EQ((*top)[0].first, "b");
  EXPECT_NEAR((*top)[0].second, 2.5, 1e-9);
  EXPECT_EQ((*top)[1].first, "a");
  EXPECT_NEAR((*top)[1].second, 1.75, 1e-9);
  EXPECT_EQ((*top)[2].first, "c");
  EXPECT_NEAR((*top)[2].second, std::sqrt(0.5), 1e-9);
  // Counts of chosen items, as ranking reads them (unknown items count 0).
  auto cmds = redis::TrendingCountsCommands(redis::Keyspace("d:"), {"c", "zzz", "a"});
  auto replies = pool_->Pipeline(cmds);
  ASSERT_TRUE(replies.ok());
  auto counts = redis::ParseTrendingCounts(*replies, 3, t0 + hl);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_NEAR((*counts)[0], std::sqrt(0.5) / 2, 1e-9);
  EXPECT_EQ((*counts)[1], 0);
  EXPECT_NEAR((*counts)[2], 1.75 / 2, 1e-9);
  // 70 half-lives later: the exponent passes 64, the set is rescaled.
  const int64_t t1 = t0 + 70 * hl;
  ASSERT_TRUE(store.Write({event("5", "d", t1, events::EventType::kPurchase)}).ok());
  auto meta = pool_->Command({"HGET", "d:trend:meta", "epoch_ms"});
  ASSERT_TRUE(meta.ok());
  EXPECT_GT(std::stoll(meta->str), t0 + 60 * hl);  // the epoch moved forward
  top = redis::TopTrending(*pool_, redis::Keyspace("d:"), t1, 10);
  ASSERT_TRUE(top.ok());
  ASSERT_GE(top->size(), 1u);
  EXPECT_EQ((*top)[0].first, "d");
  EXPECT_NEAR((*top)[0].second, 5, 1e-9);
  for (size_t i = 1; i < top->size(); ++i) EXPECT_NEAR((*top)[i].second, 0, 1e-15);
  // An old event after the rescale still lands where the closed form says.
  ASSERT_TRUE(store.Write({event("6", "e", t1 - 3 * hl, events::EventType::kPurchase)}).ok());
  top = redis::TopTrending(*pool_, redis::Keyspace("d:"), t1, 2);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[1].first, "e");
  EXPECT_NEAR((*top)[1].second, 5.0 / 8, 1e-9);
}

// A batch goes as one script call per 32 events of a partition: with 4
// partitions and 500 events, each event's outcome still lands at its own
// index, repeats are duplicates wherever they fall, every partition's stream
// holds its events in batch order, and histories and context are written.
TEST_F(IngestionTest, ABatchSplitAcrossPartitionsAndCallsKeepsEachOutcome) {
  const redis::Keyspace keys("m:", 4);
  RedisEventStorage storage(*pool_, keys);
  EventStore store(storage, StoreOptions{}, clock_);
  std::vector<events::Event> batch;
  std::vector<Outcome> expected;
  std::map<int, std::vector<std::string>> ids_by_partition;
  for (int i = 0; i < 500; ++i) {
    events::Event e;
    const bool repeat = i % 7 == 6;
    // A repeat reuses the id (and user) of the event 3 before it.
    const int of = repeat ? i - 3 : i;
    e.event_id = "m" + std::to_string(of);
    e.user_id = "u" + std::to_string(of % 37);
    e.item_id = "i" + std::to_string(i % 11);
    e.type = i % 2 ? events::EventType::kClick : events::EventType::kImpression;
    e.value = 1;
    e.timestamp_ms = 1767225000000 + i;
    if (i % 5 == 0) e.context["request_id"] = "r" + std::to_string(i);
    expected.push_back(repeat ? Outcome::kDuplicate : Outcome::kAccepted);
    if (!repeat) ids_by_partition[keys.PartitionOf(e.user_id)].push_back(e.event_id);
    batch.push_back(std::move(e));
  }
  auto written = store.Write(batch);
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_EQ(written->size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ((*written)[i], expected[i]) << "event " << i;
  ASSERT_EQ(ids_by_partition.size(), 4u);  // every partition had events
  for (const auto& [p, ids] : ids_by_partition) {
    auto r = pool_->Command({"XRANGE", keys.Events(p), "-", "+"});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->elements.size(), ids.size()) << "partition " << p;
    for (size_t j = 0; j < ids.size(); ++j) {
      const auto& fields = r->elements[j].elements[1].elements;
      std::map<std::string, std::string> f;
      for (size_t k = 0; k + 1 < fields.size(); k += 2) f[fields[k].str] = fields[k + 1].str;
      EXPECT_EQ(f["id"], ids[j]) << "partition " << p << " entry " << j;
      const int i = std::stoi(ids[j].substr(1));
      EXPECT_EQ(f["ts"], std::to_string(1767225000000 + i));
      EXPECT_EQ(f.count("ctx"), i % 5 == 0 ? 1u : 0u) << ids[j];
    }
  }
  // Clicks (odd i) are interactions: u1's history holds its clicked items.
  auto hist = store.History("u1", 100);
  ASSERT_TRUE(hist.ok());
  std::set<std::string> want;
  for (int i = 0; i < 500; ++i) {
    const int of = i % 7 == 6 ? i - 3 : i;
    if (of % 37 == 1 && i % 2 == 1 && i % 7 != 6) want.insert("i" + std::to_string(i % 11));
  }
  std::set<std::string> got;
  for (const auto& h : *hist) got.insert(h.item_id);
  EXPECT_EQ(got, want);
  // The whole batch again: every event a duplicate, nothing added.
  written = store.Write(batch);
  ASSERT_TRUE(written.ok());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ((*written)[i], Outcome::kDuplicate);
  int64_t logged = 0;
  for (int p = 0; p < 4; ++p) logged += pool_->Command({"XLEN", keys.Events(p)})->integer;
  EXPECT_EQ(logged, 500 - 500 / 7);
}

// A server that lost its scripts (SCRIPT FLUSH, a restart without them)
// answers NOSCRIPT: the writer loads the script again and sends only those
// calls, so each event is still written once.
TEST_F(IngestionTest, AFlushedScriptIsLoadedAgainAndNothingIsWrittenTwice) {
  std::vector<events::Event> batch;
  for (int i = 0; i < 150; ++i) {
    batch.push_back({.event_id = "f" + std::to_string(i),
                     .user_id = "u" + std::to_string(i % 3),
                     .item_id = "i",
                     .type = events::EventType::kView,
                     .value = 1,
                     .timestamp_ms = 1767225000000});
  }
  std::vector<events::Event> first(batch.begin(), batch.begin() + 10);
  ASSERT_TRUE(store_->Write(first).ok());
  ASSERT_TRUE(pool_->Command({"SCRIPT", "FLUSH"}).ok());
  auto written = store_->Write(batch);
  ASSERT_TRUE(written.ok()) << written.status();
  for (size_t i = 0; i < batch.size(); ++i)
    EXPECT_EQ((*written)[i], i < 10 ? Outcome::kDuplicate : Outcome::kAccepted) << i;
  EXPECT_EQ(StreamLength(), 150);
}

// At its limit the service answers RESOURCE_EXHAUSTED at once instead of
// queueing, and serves again when the requests in flight finish. Redis is
// paused (CLIENT PAUSE) so that two requests stay in flight.
TEST_F(IngestionTest, AtItsLimitTheServiceShedsAndRecovers) {
  overload::LimiterOptions lo;
  lo.initial_limit = 2;
  lo.adaptive = false;
  auto registry = std::make_shared<prometheus::Registry>();
  overload::ConcurrencyLimiter limiter("ingestion", lo, registry.get());
  IngestionServiceImpl service(*store_, clock_, events::ValidationLimits{}, *registry, &limiter);
  testing::InProcessServer server(std::vector<grpc::Service*>{&service});
  auto stub = v1::IngestionService::NewStub(server.channel());
  auto trending = [&]() {
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, 10s);
    v1::GetTrendingRequest t;
    t.set_k(5);
    v1::GetTrendingResponse tr;
    return stub->GetTrending(&ctx, t, &tr);
  };
  ASSERT_TRUE(trending().ok());
  ASSERT_TRUE(pool_->Command({"CLIENT", "PAUSE", "1500", "ALL"}).ok());
  std::atomic<int> done{0};
  std::vector<std::thread> slow;
  std::vector<grpc::Status> slow_status(2);
  for (int i = 0; i < 2; ++i) {
    slow.emplace_back([&, i] {
      slow_status[i] = trending();
      done++;
    });
  }
  while (limiter.inflight() < 2) std::this_thread::sleep_for(1ms);
  grpc::Status shed = trending();
  EXPECT_EQ(shed.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << shed.error_message();
  EXPECT_NE(shed.error_message().find("overloaded"), std::string::npos) << shed.error_message();
  EXPECT_EQ(done.load(), 0);  // answered while the two were still waiting on Redis
  for (auto& t : slow) t.join();
  for (const auto& st : slow_status) EXPECT_TRUE(st.ok()) << st.error_message();
  // A permit is released once its answer has been sent, just after the
  // client has it (common/overload/call_scope.h).
  for (int i = 0; i < 400 && limiter.inflight() != 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(limiter.inflight(), 0);
  EXPECT_TRUE(trending().ok());  // recovered
  EXPECT_EQ(limiter.shed(), 1u);
}

TEST_F(IngestionTest, MovieLensTwiceIsIdempotent) {
  // Through the streaming API, as `recstack ingest` does it.
  auto rows = data::LoadInteractions(std::string(RECSTACK_DATA_DIR) + "/ml-100k/u.data",
                                     data::Format::kMovieLens);
  ASSERT_TRUE(rows.ok());
  clock_.SetMs(1767225600000);
  const int64_t shift = 1767225600000 - 893286638000;  // the latest rating becomes "now"
  for (int pass = 0; pass < 2; ++pass) {
    grpc::ClientContext ctx;
    v1::StreamEventsResponse summary;
    auto writer = stub_->StreamEvents(&ctx, &summary);
    v1::IngestEventsRequest req;
    for (const auto& r : *rows) {
      v1::Event* e = req.add_events();
      e->set_user_id(r.user);
      e->set_item_id(r.item);
      e->set_type(v1::RATING);
      e->set_value(r.value);
      e->set_event_id(
          events::DeriveEventId(r.user, r.item, events::EventType::kRating, r.timestamp_ms));
      e->set_timestamp_ms(r.timestamp_ms + shift);
      if (req.events_size() == 2000) {
        ASSERT_TRUE(writer->Write(req));
        req.clear_events();
      }
    }
    if (req.events_size() > 0) ASSERT_TRUE(writer->Write(req));
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
    EXPECT_EQ(summary.accepted(), pass == 0 ? 100000 : 0);
    EXPECT_EQ(summary.duplicates(), pass == 0 ? 0 : 100000);
    EXPECT_EQ(summary.rejected(), 0);
  }
  EXPECT_EQ(StreamLength(), 100000);
}

}  // namespace
}  // namespace recstack::ingestion
