// FeatureAssembler without Redis: what it reads from a fake FeatureSource
// (and what it does not read again, from its caches), and the features it
// computes from the history, popularity and metadata the fake holds, each
// worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <thread>

#include "common/ranking/features.h"

namespace recstack::ranking {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kNow = 1'000 * kDay;

std::vector<std::string> Strings(std::span<const std::string_view> ids) {
  return {ids.begin(), ids.end()};
}

class FakeFeatureSource final : public FeatureSource {
 public:
  absl::StatusOr<FeatureReads> Read(std::string_view user, int recent_items,
                                    const std::vector<std::string>& popularity_of,
                                    std::span<const std::string_view> meta_of,
                                    int64_t now_ms) override {
    history_asks.push_back(recent_items);
    popularity_asks.push_back(popularity_of);
    meta_asks.push_back(Strings(meta_of));
    read_at.push_back(now_ms);
    if (on_read) on_read();
    if (!fail.ok()) return fail;
    FeatureReads out;
    const std::vector<std::string>& h = history[std::string(user)];
    if (recent_items > 0) {  // 0: the history is not read
      out.history_len = static_cast<double>(h.size());
      out.recent.assign(h.begin(), h.begin() + std::min<size_t>(h.size(), recent_items));
    }
    for (const auto& id : popularity_of) out.popularity.push_back(popularity[id]);
    for (std::string_view id : meta_of) out.items.push_back(Meta(id));
    return out;
  }
  absl::StatusOr<std::vector<ItemMeta>> ReadItems(std::span<const std::string_view> ids) override {
    item_asks.push_back(Strings(ids));
    if (!fail.ok()) return fail;
    std::vector<ItemMeta> out;
    for (std::string_view id : ids) out.push_back(Meta(id));
    return out;
  }

  ItemMeta Meta(std::string_view id) const {
    auto it = metas.find(std::string(id));
    return it == metas.end() ? ItemMeta{} : it->second;
  }

  std::map<std::string, std::vector<std::string>> history;  // newest first
  std::map<std::string, double> popularity;
  std::map<std::string, ItemMeta> metas;
  absl::Status fail;
  std::function<void()> on_read;  // called inside Read (a concurrent change)
  std::vector<std::vector<std::string>> popularity_asks, meta_asks, item_asks;
  std::vector<int> history_asks;  // recent_items of each Read
  std::vector<int64_t> read_at;
};

ItemMeta Known(std::vector<std::string> categories, int64_t created_at_ms = 0) {
  return {.known = true, .categories = std::move(categories), .created_at_ms = created_at_ms};
}

using Strs = std::vector<std::string>;

class FeatureAssemblerTest : public ::testing::Test {
 protected:
  FeatureAssemblerTest() {
    // u1's history, newest first: a candidate (a) and two items only read
    // for their categories; the oldest is beyond recent_items.
    source_.history["u1"] = {"a", "r1", "r2", "old"};
    source_.metas = {{"a", Known({"drama"}, kNow - 10 * kDay)},
                     {"b", Known({"comedy", "horror"}, kNow + kDay)},
                     {"r1", Known({"drama", "comedy"})},
                     {"r2", Known({"drama"})},
                     {"old", Known({"horror"})}};
    source_.popularity = {{"a", 0}, {"b", 1}, {"c", std::exp(2.0) - 1}};
  }

  std::vector<CandidateIn> Cands() const {
    return {{.item_id = "a", .retrieval_score = 4.0, .source = "mf", .position = 0},
            {.item_id = "b", .retrieval_score = 2.0, .source = "mf", .position = 1},
            {.item_id = "c", .retrieval_score = 7.0, .source = "trending", .position = 2}};
  }

  FakeFeatureSource source_;
  ManualClock clock_{kNow};
};

TEST_F(FeatureAssemblerTest, FeaturesComeFromHistoryPopularityAndMetadata) {
  FeatureAssembler fa(source_, clock_, {.recent_items = 3});
  auto rows = fa.Assemble("u1", Cands());
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  // One read of everything at the clock's time, then the recent items the
  // first read did not bring (a came with the candidates' metadata).
  EXPECT_EQ(source_.read_at, std::vector<int64_t>{kNow});
  EXPECT_EQ(source_.popularity_asks[0], (Strs{"a", "b", "c"}));
  EXPECT_EQ(source_.meta_asks[0], (Strs{"a", "b", "c"}));
  ASSERT_EQ(source_.item_asks.size(), 1u);
  EXPECT_EQ(source_.item_asks[0], (Strs{"r1", "r2"}));
  EXPECT_EQ(FeatureAssembler::last_round_trips(), 2);
  const FeatureRow& a = (*rows)[0];
  const FeatureRow& b = (*rows)[1];
  const FeatureRow& c = (*rows)[2];
  EXPECT_EQ(a.item_id, "a");
  EXPECT_EQ(c.item_id, "c");
  // History of 4: log(5) for every candidate.
  for (const auto& r : *rows) EXPECT_DOUBLE_EQ(r.f[kUserActivity], std::log(5.0));
  // Recent categories (a, r1, r2): drama x3, comedy x1.
  EXPECT_DOUBLE_EQ(a.f[kCategoryOverlap], 0.75);
  EXPECT_DOUBLE_EQ(b.f[kCategoryOverlap], 0.25);  // comedy; horror only in "old"
  EXPECT_DOUBLE_EQ(c.f[kCategoryOverlap], 0.0);   // no metadata
  // log(1 + decayed count).
  EXPECT_DOUBLE_EQ(a.f[kPopularity], 0.0);
  EXPECT_DOUBLE_EQ(b.f[kPopularity], std::log(2.0));
  EXPECT_NEAR(c.f[kPopularity], 2.0, 1e-12);
  // Days since created_at; the future and the unknown are 0.
  EXPECT_DOUBLE_EQ(a.f[kItemAgeDays], 10.0);
  EXPECT_DOUBLE_EQ(b.f[kItemAgeDays], 0.0);
  EXPECT_DOUBLE_EQ(c.f[kItemAgeDays], 0.0);
  // Scores over the best of their source, one-hot source, position.
  EXPECT_DOUBLE_EQ(a.f[kRetrievalScore], 1.0);
  EXPECT_DOUBLE_EQ(b.f[kRetrievalScore], 0.5);
  EXPECT_DOUBLE_EQ(c.f[kRetrievalScore], 1.0);
  EXPECT_EQ(a.f[kSourceMf], 1);
  EXPECT_EQ(c.f[kSourceTrending], 1);
  EXPECT_EQ(c.f[kSourceMf], 0);
  EXPECT_EQ(b.f[kRetrievalPosition], 1);
}

TEST_F(FeatureAssemblerTest, EachCandidatesMetadataComesBackReadOrCached) {
  source_.metas["a"].title = "A film";
  source_.metas["a"].attributes = {{"year", "1999"}};
  FeatureAssembler fa(source_, clock_, {.recent_items = 3});
  for (int round = 0; round < 2; ++round) {  // read, then from the cache
    std::vector<SharedMeta> metas;
    auto rows = fa.Assemble("u1", Cands(), &metas);
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(metas.size(), 3u);
    EXPECT_TRUE(metas[0]->known);
    EXPECT_EQ(metas[0]->title, "A film");
    EXPECT_EQ(metas[0]->attributes.at("year"), "1999");
    EXPECT_EQ(metas[0]->categories, Strs{"drama"});
    EXPECT_TRUE(metas[1]->known);
    EXPECT_FALSE(metas[2]->known);  // c has none
  }
  EXPECT_EQ(source_.meta_asks.size(), 2u);
  EXPECT_TRUE(source_.meta_asks[1].empty());
}

TEST_F(FeatureAssemblerTest, MissingMetadataIsCachedAsUnknown) {
  FeatureAssembler fa(source_, clock_, {.recent_items = 3});
  ASSERT_TRUE(fa.Assemble("u1", Cands()).ok());
  // c has no metadata: cached as unknown, like the items that have some.
  EXPECT_EQ(fa.item_cache().size(), 5u);  // a, b, c, r1, r2
  // The second request reads no metadata and no trending count (both
  // cached, the counts for popularity_ttl) and makes one round trip.
  source_.popularity["c"] = 0;  // within the TTL: not seen
  auto rows = fa.Assemble("u1", Cands());
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(FeatureAssembler::last_round_trips(), 1);
  ASSERT_EQ(source_.meta_asks.size(), 2u);
  EXPECT_TRUE(source_.meta_asks[1].empty());
  EXPECT_TRUE(source_.popularity_asks[1].empty());
  EXPECT_EQ(source_.item_asks.size(), 1u);
  EXPECT_NEAR((*rows)[2].f[kPopularity], 2.0, 1e-12);  // the cached count
  EXPECT_DOUBLE_EQ((*rows)[2].f[kItemAgeDays], 0.0);
  EXPECT_DOUBLE_EQ((*rows)[0].f[kCategoryOverlap], 0.75);  // from the cache
}

TEST_F(FeatureAssemblerTest, MetadataIsReadAgainAfterItsTtl) {
  FeatureAssembler fa(source_, clock_,
                      {.recent_items = 1, .item_cache_ttl = std::chrono::milliseconds(1)});
  ASSERT_TRUE(fa.Assemble("u1", {{.item_id = "a", .source = "mf"}}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  source_.metas["a"] = Known({"comedy"});
  auto rows = fa.Assemble("u1", {{.item_id = "a", .source = "mf"}});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(source_.meta_asks[1], (Strs{"a"}));
  // a is also u1's one recent item: comedy against comedy.
  EXPECT_DOUBLE_EQ((*rows)[0].f[kCategoryOverlap], 1.0);
  EXPECT_DOUBLE_EQ((*rows)[0].f[kItemAgeDays], 0.0);  // the new metadata has no date
}

TEST_F(FeatureAssemblerTest, ForgottenItemsAreReadAgainAndTheOthersAreNot) {
  FeatureAssembler fa(source_, clock_, {.recent_items = 3});
  ASSERT_TRUE(fa.Assemble("u1", Cands()).ok());
  source_.metas["a"].title = "A, retitled";
  source_.metas["b"].title = "B, retitled";
  // Only a's change was announced: a is read again, b stays as cached.
  const std::string_view changed[] = {"a"};
  fa.ForgetItems(changed);
  std::vector<SharedMeta> metas;
  ASSERT_TRUE(fa.Assemble("u1", Cands(), &metas).ok());
  EXPECT_EQ(source_.meta_asks.back(), Strs{"a"});
  EXPECT_EQ(metas[0]->title, "A, retitled");
  EXPECT_EQ(metas[1]->title, "");
  // Everything forgotten (announcements may have been missed): the
  // candidates and the recent items are all read again.
  fa.ForgetAllItems();
  EXPECT_EQ(fa.item_cache().size(), 0u);
  ASSERT_TRUE(fa.Assemble("u1", Cands(), &metas).ok());
  EXPECT_EQ(source_.meta_asks.back(), (Strs{"a", "b", "c"}));
  EXPECT_EQ(source_.item_asks.back(), (Strs{"r1", "r2"}));
  EXPECT_EQ(metas[1]->title, "B, retitled");
}

TEST_F(FeatureAssemblerTest, AReadDuringAChangeIsUsedButNotCached) {
  FeatureAssembler fa(source_, clock_, {.recent_items = 3});
  // An announcement arrives while the first read is out: what that read
  // brought may predate the change, so the request uses it and the cache
  // keeps none of it.
  source_.on_read = [&] {
    const std::string_view changed[] = {"a"};
    fa.ForgetItems(changed);
  };
  std::vector<SharedMeta> metas;
  ASSERT_TRUE(fa.Assemble("u1", Cands(), &metas).ok());
  EXPECT_EQ(metas[0]->categories, Strs{"drama"});
  EXPECT_EQ(fa.item_cache().size(), 0u);
  // With no change during it, the next read is cached, and the one after
  // reads no metadata.
  source_.on_read = nullptr;
  ASSERT_TRUE(fa.Assemble("u1", Cands()).ok());
  EXPECT_EQ(source_.meta_asks.back(), (Strs{"a", "b", "c"}));
  EXPECT_EQ(fa.item_cache().size(), 5u);
  ASSERT_TRUE(fa.Assemble("u1", Cands()).ok());
  EXPECT_TRUE(source_.meta_asks.back().empty());
}

TEST_F(FeatureAssemblerTest, PopularityIsCachedOneAtATime) {
  FeatureAssembler fa(source_, clock_, {.recent_items = 3});
  ASSERT_TRUE(fa.Assemble("u1", {{.item_id = "b", .source = "mf"}}).ok());
  source_.popularity["b"] = 99;  // within the cache's TTL: not seen
  auto rows = fa.Assemble("u1", Cands());
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(source_.popularity_asks[0], (Strs{"b"}));
  EXPECT_EQ(source_.popularity_asks[1], (Strs{"a", "c"}));  // the misses only
  EXPECT_DOUBLE_EQ((*rows)[1].f[kPopularity], std::log(2.0));
  EXPECT_NEAR((*rows)[2].f[kPopularity], 2.0, 1e-12);
}

TEST_F(FeatureAssemblerTest, PopularityIsReadAgainAfterItsTtl) {
  FeatureAssembler fa(source_, clock_,
                      {.recent_items = 1, .popularity_ttl = std::chrono::milliseconds(1)});
  ASSERT_TRUE(fa.Assemble("u1", {{.item_id = "b", .source = "mf"}}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  source_.popularity["b"] = 99;
  auto rows = fa.Assemble("u1", {{.item_id = "b", .source = "mf"}});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(source_.popularity_asks[1], (Strs{"b"}));
  EXPECT_DOUBLE_EQ((*rows)[0].f[kPopularity], std::log(100.0));
}

TEST_F(FeatureAssemblerTest, AHandedOnHistoryIsNotReadAgainAndGivesTheSameFeatures) {
  FeatureAssembler read_here(source_, clock_, {.recent_items = 3});
  auto expected = read_here.Assemble("u1", Cands());
  ASSERT_TRUE(expected.ok()) << expected.status();
  source_.history_asks.clear();
  FeatureAssembler fa(source_, clock_, {.recent_items = 3});
  // What retrieval hands on: the whole length, and at least recent_items.
  const KnownHistory known{.length = 4, .items = {"a", "r1", "r2", "old"}};
  source_.meta_asks.clear();
  source_.item_asks.clear();
  for (int round = 0; round < 2; ++round) {
    auto rows = fa.Assemble("u1", Cands(), nullptr, &known);
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), expected->size());
    for (size_t i = 0; i < rows->size(); ++i) EXPECT_EQ((*rows)[i].f, (*expected)[i].f) << i;
    // The first request read the misses without the history, the recent
    // items' metadata in the same round trip as the candidates'; the
    // second, every cache warm, made no round trip at all.
    EXPECT_EQ(FeatureAssembler::last_round_trips(), round == 0 ? 1 : 0) << round;
  }
  EXPECT_EQ(source_.history_asks, std::vector<int>{0});
  ASSERT_EQ(source_.meta_asks.size(), 1u);
  EXPECT_EQ(source_.meta_asks[0], (Strs{"a", "b", "c", "a", "r1", "r2"}));
  EXPECT_TRUE(source_.item_asks.empty());
}

TEST_F(FeatureAssemblerTest, AHandedOnHistoryTooShortForTheFeaturesIsReadAfterAll) {
  FeatureAssembler fa(source_, clock_, {.recent_items = 3});
  // Two of four entries: fewer than recent_items, and not the whole history.
  const KnownHistory partial{.length = 4, .items = {"a", "r1"}};
  ASSERT_TRUE(fa.Assemble("u1", Cands(), nullptr, &partial).ok());
  EXPECT_EQ(source_.history_asks, std::vector<int>{3});
  // A short history that is whole is used as it is: "b" has one entry.
  source_.history["b-user"] = {"r1"};
  const KnownHistory whole{.length = 1, .items = {"r1"}};
  auto rows = fa.Assemble("b-user", Cands(), nullptr, &whole);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(source_.history_asks.size(), 1u);  // every cache warm: no read
  EXPECT_DOUBLE_EQ((*rows)[0].f[kUserActivity], std::log(2.0));
  EXPECT_DOUBLE_EQ((*rows)[1].f[kCategoryOverlap], 0.5);  // b: comedy of drama, comedy
}

TEST_F(FeatureAssemblerTest, AUserWithNoHistoryHasNoActivityOrOverlap) {
  FeatureAssembler fa(source_, clock_);
  auto rows = fa.Assemble("nobody", Cands());
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(FeatureAssembler::last_round_trips(), 1);
  EXPECT_TRUE(source_.item_asks.empty());
  for (const auto& r : *rows) {
    EXPECT_EQ(r.f[kUserActivity], 0);
    EXPECT_EQ(r.f[kCategoryOverlap], 0);
  }
}

TEST_F(FeatureAssemblerTest, ASourceFailureIsUnavailableAndCachesNothing) {
  FeatureAssembler fa(source_, clock_);
  source_.fail = absl::UnavailableError("redis: connection refused");
  auto rows = fa.Assemble("u1", Cands());
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(fa.item_cache().size(), 0u);
  source_.fail = absl::OkStatus();
  ASSERT_TRUE(fa.Assemble("u1", Cands()).ok());
  EXPECT_EQ(source_.meta_asks[1], (Strs{"a", "b", "c"}));
}

// The counts' ttl runs on the assembler's clock. Without a refresher a
// count past it is read on the request path, with the next request's other
// reads.
TEST_F(FeatureAssemblerTest, WithoutARefresherAStaleCountIsReadOnTheRequestPath) {
  FeatureAssembler fa(source_, clock_, {.recent_items = 3});
  ASSERT_TRUE(fa.Assemble("u1", Cands()).ok());
  clock_.AdvanceMs(31'000);
  source_.popularity["c"] = 0;
  auto rows = fa.Assemble("u1", Cands());
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(source_.popularity_asks[1], (Strs{"a", "b", "c"}));
  EXPECT_DOUBLE_EQ((*rows)[2].f[kPopularity], 0.0);
  EXPECT_EQ(fa.RefreshPopularity().value(), 0u);  // nothing was queued
}

// With a refresher the stale count is served at once and queued; the
// refresher's pass reads the queued items (once each, in one read), and the
// next request has the new count without a round trip of its own.
TEST_F(FeatureAssemblerTest, AStaleCountIsServedAndReadAgainInTheBackground) {
  FeatureAssembler fa(source_, clock_, {.recent_items = 3, .popularity_in_background = true});
  // Handed on, as retrieval does: with the caches warm no round trip at all.
  const KnownHistory known{.length = 4, .items = {"a", "r1", "r2", "old"}};
  ASSERT_TRUE(fa.Assemble("u1", Cands(), nullptr, &known).ok());
  ASSERT_EQ(source_.popularity_asks.size(), 1u);
  clock_.AdvanceMs(31'000);
  source_.popularity["c"] = std::exp(3.0) - 1;
  auto stale = fa.Assemble("u1", Cands(), nullptr, &known);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(FeatureAssembler::last_round_trips(), 0);
  ASSERT_TRUE(fa.Assemble("u1", Cands(), nullptr, &known).ok());  // queues them again
  EXPECT_EQ(source_.popularity_asks.size(), 1u);
  EXPECT_NEAR((*stale)[2].f[kPopularity], 2.0, 1e-12);  // the old count
  auto refreshed = fa.RefreshPopularity();
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(*refreshed, 3u);  // each once
  ASSERT_EQ(source_.popularity_asks.size(), 2u);
  Strs asked = source_.popularity_asks[1];
  std::sort(asked.begin(), asked.end());
  EXPECT_EQ(asked, (Strs{"a", "b", "c"}));
  EXPECT_EQ(source_.history_asks[1], 0);  // counts only: no history, no metadata
  EXPECT_TRUE(source_.meta_asks[1].empty());
  EXPECT_EQ(source_.read_at[1], kNow + 31'000);
  auto fresh = fa.Assemble("u1", Cands(), nullptr, &known);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(FeatureAssembler::last_round_trips(), 0);
  EXPECT_EQ(source_.popularity_asks.size(), 2u);
  EXPECT_NEAR((*fresh)[2].f[kPopularity], 3.0, 1e-12);
  EXPECT_EQ(fa.RefreshPopularity().value(), 0u);  // fresh again: nothing queued
}

// A refresh that fails keeps its items queued for the next pass; a count
// older than popularity_max_age is never served, refresher or not.
TEST_F(FeatureAssemblerTest, AFailedRefreshKeepsItsItemsAndTooOldACountIsReadAtOnce) {
  FeatureAssembler fa(source_, clock_, {.recent_items = 3, .popularity_in_background = true});
  ASSERT_TRUE(fa.Assemble("u1", Cands()).ok());
  clock_.AdvanceMs(31'000);
  ASSERT_TRUE(fa.Assemble("u1", Cands()).ok());
  source_.fail = absl::UnavailableError("redis away");
  EXPECT_EQ(fa.RefreshPopularity().status().code(), absl::StatusCode::kUnavailable);
  source_.fail = absl::OkStatus();
  EXPECT_EQ(fa.RefreshPopularity().value(), 3u);

  FeatureAssembler old(source_, clock_,
                       {.recent_items = 3,
                        .popularity_ttl = std::chrono::milliseconds(1),
                        .popularity_in_background = true,
                        .popularity_max_age = std::chrono::milliseconds(2)});
  ASSERT_TRUE(old.Assemble("u1", Cands()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the cache's own clock
  const size_t asks = source_.popularity_asks.size();
  ASSERT_TRUE(old.Assemble("u1", Cands()).ok());
  ASSERT_EQ(source_.popularity_asks.size(), asks + 1);
  EXPECT_EQ(source_.popularity_asks[asks], (Strs{"a", "b", "c"}));
}

}  // namespace
}  // namespace recstack::ranking
