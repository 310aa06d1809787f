// The Retriever's logic without sockets: a fixed model and a fake of the
// small interface it reads the rest through (RetrievalSource).
#include "common/retrieval/retriever.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock/clock.h"

namespace recstack::retrieval {
namespace {

class FakeSource final : public RetrievalSource {
 public:
  absl::StatusOr<events::UserHistory> History(const std::string& user, int n, bool count) override {
    history_asks.push_back(n);
    if (!history_error.ok()) return history_error;
    events::UserHistory out;
    auto it = history.find(user);
    if (it != history.end()) out.items = it->second;
    if (count) out.length = static_cast<int64_t>(out.items.size());
    if (static_cast<int>(out.items.size()) > n) out.items.resize(n);
    return out;
  }
  absl::StatusOr<std::optional<std::vector<float>>> UserVector(const std::string& version,
                                                               const std::string& user) override {
    vector_asks.push_back(version + "/" + user);
    auto it = vectors.find(user);
    if (it == vectors.end()) return std::optional<std::vector<float>>();
    return std::optional<std::vector<float>>(it->second);
  }
  absl::StatusOr<redis::ItemCounts> TopTrending(int64_t, int k) override {
    redis::ItemCounts out = trending;
    if (static_cast<int>(out.size()) > k) out.resize(k);
    return out;
  }
  absl::Status ScanUsers(
      const std::string&,
      const std::function<absl::Status(const std::vector<std::string>&)>& batch) override {
    for (size_t i = 0; i < users.size(); i += 3) {  // batches of 3, as SCAN would
      std::vector<std::string> b(users.begin() + i, users.begin() + std::min(users.size(), i + 3));
      ++scan_batches;
      absl::Status st = batch(b);
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  std::map<std::string, std::vector<std::string>> history;  // newest first
  std::map<std::string, std::vector<float>> vectors;
  redis::ItemCounts trending;
  std::vector<std::string> users;
  absl::Status history_error;
  std::vector<int> history_asks;
  std::vector<std::string> vector_asks;
  int scan_batches = 0;
};

class FixedModel final : public ServingModels {
 public:
  std::shared_ptr<const ServingModel> Current() const override { return model; }
  std::shared_ptr<const ServingModel> model;
};

// Items i0..i9 on two axes: i0-i4 along x (i0 longest), i5-i9 along y.
std::shared_ptr<ServingModel> TwoClusters() {
  model::ItemFactors f;
  f.meta.version = "v3";
  f.meta.factors = 2;
  f.meta.n_items = 10;
  f.meta.regularization = 0.1f;
  f.meta.alpha = 1.0f;
  for (int i = 0; i < 10; ++i) {
    f.item_ids.push_back("i" + std::to_string(i));
    const float len = 1.0f - 0.1f * static_cast<float>(i % 5);
    f.factors.push_back(i < 5 ? len : 0.05f * len);
    f.factors.push_back(i < 5 ? 0.05f * len : len);
  }
  return BuildServingModel(std::move(f), HolderOptions{}, /*build_hnsw_now=*/false);
}

std::vector<std::string> Ids(const std::vector<Candidate>& cands, const std::string& source = "") {
  std::vector<std::string> out;
  for (const auto& c : cands)
    if (source.empty() || c.source == source) out.push_back(c.item_id);
  return out;
}

class RetrieverTest : public ::testing::Test {
 protected:
  RetrieverTest() {
    models_.model = TwoClusters();
    source_.trending = {{"i9", 50}, {"i8", 40}, {"i0", 30}, {"t-new", 20}};
  }
  Retriever Make(RetrieverOptions o = {}) {
    o.trending_refresh = std::chrono::hours(1);  // loaded once, at Start
    return Retriever(models_, source_, clock_, o);
  }

  FakeSource source_;
  FixedModel models_;
  ManualClock clock_{1767225600000};
};

TEST_F(RetrieverTest, StoredVectorsRankTheIndexAndSeenItemsNeverComeBack) {
  source_.vectors["u1"] = {1.0f, 0.0f};
  source_.history["u1"] = {"i0", "i2"};
  Retriever r = Make();
  r.Start();
  auto res = r.Retrieve({.user_id = "u1", .k = 3, .sources = {"mf"}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(Ids(res->candidates), (std::vector<std::string>{"i1", "i3", "i4"}));
  EXPECT_EQ(res->user_vector, "model");
  EXPECT_EQ(res->model_version, "v3");
  EXPECT_EQ(source_.vector_asks, (std::vector<std::string>{"v3/u1"}));
  EXPECT_EQ(source_.history_asks, (std::vector<int>{RetrieverOptions{}.history_for_seen}));
  // The vector is cached per (version, user): not asked again.
  ASSERT_TRUE(r.Retrieve({.user_id = "u1", .k = 3, .sources = {"mf"}}).ok());
  EXPECT_EQ(source_.vector_asks.size(), 1u);
}

TEST_F(RetrieverTest, AUserTheModelDoesNotKnowIsFoldedInFromHistory) {
  source_.history["new"] = {"i6", "i7"};  // all along y
  Retriever r = Make();
  auto res = r.Retrieve({.user_id = "new", .k = 2, .sources = {"mf"}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->user_vector, "folded_in");
  EXPECT_EQ(Ids(res->candidates), (std::vector<std::string>{"i5", "i8"}));
  // No vector and no history: nothing to score.
  auto none = r.Retrieve({.user_id = "nobody", .k = 2, .sources = {"mf"}});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->user_vector, "none");
  EXPECT_TRUE(none->candidates.empty());
}

TEST_F(RetrieverTest, SourcesMergeByQuotaWithoutDuplicatesOrBlockedItems) {
  source_.vectors["u1"] = {0.0f, 1.0f};
  source_.history["u1"] = {"i5"};
  Retriever r = Make({.mf_share = 0.5, .item2item_share = 0.25, .trending_share = 0.25});
  r.Start();
  auto res = r.Retrieve({.user_id = "u1", .k = 4, .exclude = {"i9"}, .recent = {"i6"}});
  ASSERT_TRUE(res.ok()) << res.status();
  const auto ids = Ids(res->candidates);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 4u);
  for (const char* blocked : {"i5", "i6", "i9"})
    EXPECT_EQ(std::count(ids.begin(), ids.end(), blocked), 0) << blocked;
  // mf's quota (2) first: the best along y that are not blocked.
  EXPECT_EQ(res->candidates[0].item_id, "i7");
  EXPECT_EQ(res->candidates[0].source, "mf");
  EXPECT_EQ(res->candidates[1].item_id, "i8");
  // Then item2item's (1): the newest item's (i6, the request's recent)
  // nearest by cosine that nothing took yet; then trending's (1).
  EXPECT_EQ(res->candidates[2].source, "item2item");
  EXPECT_EQ(res->candidates[2].because_item_id, "i6");
  // Trending's first item that is neither blocked (i9) nor taken already.
  std::string first_free;
  for (const char* t : {"i9", "i8", "i0", "t-new"}) {
    if (std::string(t) != "i9" && std::find(ids.begin(), ids.begin() + 3, t) == ids.begin() + 3) {
      first_free = t;
      break;
    }
  }
  EXPECT_EQ(res->candidates[3].source, "trending");
  EXPECT_EQ(res->candidates[3].item_id, first_free);
  ASSERT_EQ(res->sources.size(), 3u);
  EXPECT_EQ(res->sources[0].kept + res->sources[1].kept + res->sources[2].kept, 4);
}

TEST_F(RetrieverTest, ItemToItemTakesTheSeedsInTurnAndStopsAtK) {
  // Newest first: i5 (along y) and i0 (along x). i5's neighbours are i6-i9
  // (the same direction: ties by row), then i1; i0's are i1-i4, then i6.
  source_.history["u2"] = {"i5", "i0"};
  Retriever r = Make();
  auto res = r.Retrieve({.user_id = "u2", .k = 5, .sources = {"item2item"}});
  ASSERT_TRUE(res.ok()) << res.status();
  // One from each seed in turn, i1 once though both seeds have it, and no
  // more than k: the source itself stops at k (its report says 5, not the
  // 8 distinct neighbours the two seeds' lists of 5 hold).
  EXPECT_EQ(Ids(res->candidates), (std::vector<std::string>{"i6", "i1", "i7", "i2", "i8"}));
  std::vector<std::string> because;
  for (const auto& c : res->candidates) because.push_back(c.because_item_id);
  EXPECT_EQ(because, (std::vector<std::string>{"i5", "i0", "i5", "i0", "i5"}));
  ASSERT_EQ(res->sources.size(), 1u);
  EXPECT_EQ(res->sources[0].candidates, 5);
}

TEST_F(RetrieverTest, TrendingAloneWorksBeforeAnyModelAndOthersSayWhyNot) {
  models_.model = nullptr;
  Retriever r = Make();
  r.Start();
  auto res = r.Retrieve({.user_id = "u1", .k = 2, .sources = {"trending"}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(Ids(res->candidates), (std::vector<std::string>{"i9", "i8"}));
  auto mf = r.Retrieve({.user_id = "u1", .k = 2});
  EXPECT_EQ(mf.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RetrieverTest, BadRequestsAreInvalidArgumentAndReadNothing) {
  Retriever r = Make();
  EXPECT_EQ(r.Retrieve({.user_id = "", .k = 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.Retrieve({.user_id = "u1", .k = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bad = r.Retrieve({.user_id = "u1", .k = 2, .sources = {"nope"}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("nope"), std::string::npos);
  EXPECT_TRUE(source_.history_asks.empty());
}

TEST_F(RetrieverTest, TheHistoryIsHandedOnOnlyWhenAskedAndWithoutTheRequestsRecentItems) {
  source_.vectors["u1"] = {1.0f, 0.0f};
  source_.history["u1"] = {"i0", "i2", "i4"};
  Retriever r = Make();
  auto plain = r.Retrieve({.user_id = "u1", .k = 2, .sources = {"mf"}});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->history.has_value());
  // Two asked of three: the newest two, and the whole history's length;
  // the request's recent item is not in Redis's history and not in it.
  auto res = r.Retrieve(
      {.user_id = "u1", .k = 2, .sources = {"mf"}, .recent = {"i1"}, .history_items = 2});
  ASSERT_TRUE(res.ok()) << res.status();
  ASSERT_TRUE(res->history.has_value());
  EXPECT_EQ(res->history->length, 3);
  EXPECT_EQ(res->history->items, (std::vector<std::string>{"i0", "i2"}));
  // Everything seen is still filtered out.
  for (const auto& c : res->candidates) {
    for (const char* seen : {"i0", "i1", "i2", "i4"}) EXPECT_NE(c.item_id, seen);
  }
  // More than history_for_seen asked: that many are read.
  Retriever small = Make({.history_for_seen = 1});
  source_.history_asks.clear();
  auto more = small.Retrieve({.user_id = "u1", .k = 2, .sources = {"mf"}, .history_items = 3});
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(source_.history_asks, (std::vector<int>{3}));
  EXPECT_EQ(more->history->items.size(), 3u);
  for (int bad : {-1, kMaxHistoryItems + 1}) {
    auto out = r.Retrieve({.user_id = "u1", .k = 2, .history_items = bad});
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(out.status().message().find("history_items"), std::string::npos);
  }
}

TEST_F(RetrieverTest, AHistoryReadFailureFailsTheRequest) {
  source_.history_error = absl::UnavailableError("redis down");
  Retriever r = Make();
  auto res = r.Retrieve({.user_id = "u1", .k = 2, .sources = {"mf"}});
  EXPECT_EQ(res.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RetrieverTest, SampleUsersStopsScanningOnceFullAndIsKeptPerVersion) {
  for (int i = 0; i < 300; ++i) source_.users.push_back("u" + std::to_string(i));
  Retriever r = Make();
  auto s = r.SampleUsers(5);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->model_version, "v3");
  EXPECT_EQ(s->user_ids, (std::vector<std::string>{"u0", "u1", "u2", "u3", "u4"}));
  // Full at Retriever::kMaxSampleUsers: the scan stopped there.
  // The batch holding the (kMaxSampleUsers + 1)-th user is the last read.
  const int batches = Retriever::kMaxSampleUsers / 3 + 1;
  EXPECT_EQ(source_.scan_batches, batches);
  ASSERT_TRUE(r.SampleUsers(100).ok());
  EXPECT_EQ(source_.scan_batches, batches);  // kept for the version
  EXPECT_EQ(r.SampleUsers(0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recstack::retrieval
