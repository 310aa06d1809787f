// The features of DESIGN §6 from their inputs, without Redis: each value
// against its formula worked by hand.
#include "common/ranking/features.h"

#include <gtest/gtest.h>

#include <cmath>

namespace recstack::ranking {
namespace {

constexpr int64_t kDay = 86'400'000;

TEST(ComputeFeatures, EachFeatureMatchesItsFormula) {
  const int64_t now = 1'000 * kDay;
  std::vector<CandidateIn> cands = {
      {.item_id = "a", .retrieval_score = 4.0, .source = "mf", .position = 0},
      {.item_id = "b", .retrieval_score = 2.0, .source = "mf", .position = 1},
      {.item_id = "c", .retrieval_score = 0.5, .source = "item2item", .position = 2},
      {.item_id = "d", .retrieval_score = 30, .source = "trending", .position = 3},
  };
  FeatureInputs in;
  in.now_ms = now;
  in.history_len = 9;
  // Recent categories: drama x3, comedy x1 (4 in all).
  in.recent = {{.known = true, .categories = {"drama", "comedy"}},
               {.known = true, .categories = {"drama"}},
               {.known = true, .categories = {"drama"}},
               {.known = false}};
  in.items = {{.known = true, .categories = {"drama"}, .created_at_ms = now - 10 * kDay},
              {.known = true, .categories = {"comedy", "horror"}, .created_at_ms = now + kDay},
              {.known = true, .categories = {"drama", "comedy"}},
              {.known = false}};
  in.popularity = {0, 1, std::exp(2.0) - 1, 99};
  auto rows = ComputeFeatures(cands, in);
  ASSERT_EQ(rows.size(), 4u);
  // Retrieval score over the best of its source: mf 4/4, 2/4; others 1.
  EXPECT_DOUBLE_EQ(rows[0].f[kRetrievalScore], 1.0);
  EXPECT_DOUBLE_EQ(rows[1].f[kRetrievalScore], 0.5);
  EXPECT_DOUBLE_EQ(rows[2].f[kRetrievalScore], 1.0);
  EXPECT_DOUBLE_EQ(rows[3].f[kRetrievalScore], 1.0);
  // One-hot source.
  EXPECT_EQ(rows[0].f[kSourceMf], 1);
  EXPECT_EQ(rows[0].f[kSourceItem2Item] + rows[0].f[kSourceTrending], 0);
  EXPECT_EQ(rows[2].f[kSourceItem2Item], 1);
  EXPECT_EQ(rows[3].f[kSourceTrending], 1);
  EXPECT_EQ(rows[3].f[kRetrievalPosition], 3);
  // log(1 + count).
  EXPECT_DOUBLE_EQ(rows[0].f[kPopularity], 0.0);
  EXPECT_DOUBLE_EQ(rows[1].f[kPopularity], std::log(2.0));
  EXPECT_NEAR(rows[2].f[kPopularity], 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(rows[3].f[kPopularity], std::log(100.0));
  for (const auto& r : rows) EXPECT_DOUBLE_EQ(r.f[kUserActivity], std::log(10.0));
  // Age in days; a future created_at is 0, an unknown one too.
  EXPECT_DOUBLE_EQ(rows[0].f[kItemAgeDays], 10.0);
  EXPECT_DOUBLE_EQ(rows[1].f[kItemAgeDays], 0.0);
  EXPECT_DOUBLE_EQ(rows[2].f[kItemAgeDays], 0.0);
  // Category overlap: the share of the user's recent categories the item
  // has: drama 3/4; comedy 1/4 (+ horror 0); drama + comedy 1 (capped);
  // no categories 0.
  EXPECT_DOUBLE_EQ(rows[0].f[kCategoryOverlap], 0.75);
  EXPECT_DOUBLE_EQ(rows[1].f[kCategoryOverlap], 0.25);
  EXPECT_DOUBLE_EQ(rows[2].f[kCategoryOverlap], 1.0);
  EXPECT_DOUBLE_EQ(rows[3].f[kCategoryOverlap], 0.0);
  EXPECT_EQ(rows[2].item_id, "c");
}

TEST(ComputeFeatures, NoHistoryMeansNoOverlapAndZeroActivity) {
  std::vector<CandidateIn> cands = {{.item_id = "a", .retrieval_score = 0, .source = "mf"}};
  FeatureInputs in;
  in.now_ms = 5 * kDay;
  in.items = {{.known = true, .categories = {"drama"}}};
  in.popularity = {0};
  auto rows = ComputeFeatures(cands, in);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].f[kCategoryOverlap], 0);
  EXPECT_EQ(rows[0].f[kUserActivity], 0);
  EXPECT_EQ(rows[0].f[kRetrievalScore], 0);  // a zero best score does not divide
}

}  // namespace
}  // namespace recstack::ranking
