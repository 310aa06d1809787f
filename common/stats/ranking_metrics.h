#pragma once

// Offline metrics of a scored set of impressions, for learned rankers:
// AUC, log loss, and NDCG@k over groups (one group = one request). The
// training service's evaluate.h scores factor models against held-out item
// sets (binary relevance, item ids); these take a ranker's scores and
// observed labels instead.

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace recstack::stats {

// Area under the ROC curve = P(score of a random positive > score of a
// random negative) + 0.5 P(tie), by the Mann-Whitney U statistic with
// mid-ranks for ties: O(n log n). Labels are 0 or 1. InvalidArgument for
// size mismatch, a non-finite score, a label other than 0/1, or no
// positives or no negatives.
absl::StatusOr<double> Auc(std::span<const double> scores, std::span<const int> labels);

// Mean binary cross-entropy -(y log p + (1 - y) log(1 - p)), natural log,
// p clipped to [eps, 1 - eps] (eps = 1e-15, as scikit-learn). Labels in
// [0, 1]. InvalidArgument for size mismatch, an empty input, a probability
// outside [0, 1] or NaN, or a label outside [0, 1].
absl::StatusOr<double> LogLoss(std::span<const double> probabilities,
                               std::span<const double> labels);

// One request's items: the ranker's scores and graded relevance (clicks: 0/1).
struct ScoredGroup {
  std::vector<double> scores;
  std::vector<double> relevance;  // >= 0
};

struct NdcgResult {
  double ndcg = 0;             // mean over groups with at least one relevant item
  int64_t groups = 0;          // groups in that mean
  int64_t skipped_groups = 0;  // groups with no relevant item (NDCG undefined)
};

// NDCG@k with exponential gain 2^rel - 1 and discount 1 / log2(rank + 1)
// (XGBoost's rank:ndcg). Items are ranked by score, best first; ties in
// score are ordered worst relevance first (pessimistic), so a constant
// scorer earns no credit for the order the items arrived in.
// InvalidArgument for k < 1, mismatched sizes or non-finite values, or a
// negative relevance (naming the group).
absl::StatusOr<NdcgResult> NdcgAtK(std::span<const ScoredGroup> groups, int k);

}  // namespace recstack::stats
