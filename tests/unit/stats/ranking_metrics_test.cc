#include "common/stats/ranking_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/math/rng.h"

namespace recstack::stats {
namespace {

// AUC against the definition: every (positive, negative) pair, ties 1/2.
TEST(Auc, MatchesBruteForcePairCount) {
  math::Rng rng(3);
  for (int trial = 0; trial < 5; ++trial) {
    const int n = 1500;
    std::vector<double> scores(n);
    std::vector<int> labels(n);
    for (int i = 0; i < n; ++i) {
      labels[i] = rng.Uniform() < 0.2;
      // Coarse grid: many ties, within and across classes.
      scores[i] = std::round((rng.Normal() + 0.7 * labels[i]) * (trial + 1)) / (trial + 1);
    }
    double pairs = 0, wins = 0;
    for (int i = 0; i < n; ++i) {
      if (!labels[i]) continue;
      for (int j = 0; j < n; ++j) {
        if (labels[j]) continue;
        pairs++;
        wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
      }
    }
    auto auc = Auc(scores, labels);
    ASSERT_TRUE(auc.ok());
    EXPECT_NEAR(*auc, wins / pairs, 1e-12) << "trial " << trial;
  }
  std::vector<double> s = {0.1, 0.4, 0.35, 0.8};
  std::vector<int> y = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(*Auc(s, y), 0.75);
  std::vector<double> same = {1, 1, 1, 1};
  EXPECT_DOUBLE_EQ(*Auc(same, y), 0.5);
  std::vector<int> all_pos = {1, 1, 1, 1};
  EXPECT_EQ(Auc(s, all_pos).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<int> bad = {0, 2, 1, 1};
  EXPECT_EQ(Auc(s, bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LogLoss, ClosedForm) {
  // Constant prediction q on labels with rate 0.3: -(0.3 log q + 0.7 log(1 - q)).
  std::vector<double> y(10, 0), p(10, 0.4);
  y[0] = y[1] = y[2] = 1;
  EXPECT_NEAR(*LogLoss(p, y), -(0.3 * std::log(0.4) + 0.7 * std::log(0.6)), 1e-14);
  // A certain wrong prediction is clipped, not infinite: -log(1e-15).
  std::vector<double> one = {0.0}, yes = {1.0};
  EXPECT_NEAR(*LogLoss(one, yes), -std::log(1e-15), 1e-9);
  std::vector<double> out = {1.2};
  EXPECT_EQ(LogLoss(out, yes).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LogLoss({}, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Ndcg, HandComputedAndTies) {
  // Scores put relevances [0, 2, 1] in that order; ideal is [2, 1, 0].
  std::vector<ScoredGroup> g = {{{0.9, 0.5, 0.1}, {0, 2, 1}}};
  const double dcg = 3 / std::log2(3.0) + 1 / std::log2(4.0);
  const double idcg = 3 + 1 / std::log2(3.0);
  auto r = NdcgAtK(g, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->ndcg, dcg / idcg, 1e-14);
  EXPECT_NEAR(NdcgAtK(g, 1)->ndcg, 0, 1e-15);
  // Perfect order, a group without relevant items (skipped), ties scored
  // pessimistically: one click among 4 equal scores sits at rank 4.
  g = {{{3, 2, 1}, {1, 1, 0}}, {{1, 2}, {0, 0}}, {{5, 5, 5, 5}, {0, 1, 0, 0}}};
  r = NdcgAtK(g, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->groups, 2);
  EXPECT_EQ(r->skipped_groups, 1);
  EXPECT_NEAR(r->ndcg, (1 + 1 / std::log2(5.0)) / 2, 1e-14);
  EXPECT_EQ(NdcgAtK(g, 0).status().code(), absl::StatusCode::kInvalidArgument);
  g = {{{1, 2}, {1}}};
  EXPECT_EQ(NdcgAtK(g, 3).status().code(), absl::StatusCode::kInvalidArgument);
  g = {{{1, 2}, {1, -1}}};
  EXPECT_EQ(NdcgAtK(g, 3).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recstack::stats
