#pragma once

// Offline metrics of a click model, shared by the learners' histories, their
// tests and the training service's reports.

#include <cstdint>
#include <span>

namespace recstack::ml {

// Weighted mean of -[y log p + (1 - y) log(1 - p)], p clamped to
// [1e-15, 1 - 1e-15]. `weights` empty = all 1. 0 for no rows.
double LogLoss(std::span<const float> labels, std::span<const double> probs,
               std::span<const float> weights = {});

// Area under the ROC curve = P(score of a random positive > a random
// negative), ties counted one half (Mann-Whitney with mid-ranks).
// 0.5 when either class is absent.
double Auc(std::span<const float> labels, std::span<const double> scores);

// Mean over groups of NDCG@k with gains 2^label - 1, rows of a group
// contiguous in `groups`; ties in score keep row order. Groups without a
// positive label are skipped (their NDCG is undefined); 0 if none is left.
double NdcgAtK(std::span<const float> labels, std::span<const double> scores,
               std::span<const uint64_t> groups, int k);

}  // namespace recstack::ml
