#include "common/stats/ranking_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace recstack::stats {

absl::StatusOr<double> Auc(std::span<const double> scores, std::span<const int> labels) {
  if (scores.size() != labels.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(scores.size(), " scores but ", labels.size(), " labels"));
  }
  int64_t n_pos = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!std::isfinite(scores[i])) {
      return absl::InvalidArgumentError(absl::StrCat("score ", i, " is not finite"));
    }
    if (labels[i] != 0 && labels[i] != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", i, " must be 0 or 1, got ", labels[i]));
    }
    n_pos += labels[i];
  }
  const int64_t n_neg = static_cast<int64_t>(scores.size()) - n_pos;
  if (n_pos == 0 || n_neg == 0) {
    return absl::InvalidArgumentError(absl::StrCat("AUC needs positives and negatives, got ", n_pos,
                                                   " positive and ", n_neg, " negative"));
  }
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Sum of the positives' ranks (1-based), ties sharing their mean rank.
  double rank_sum = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    int64_t pos_in_tie = 0;
    while (j < order.size() && scores[order[j]] == scores[order[i]])
      pos_in_tie += labels[order[j++]];
    const double mid_rank = 0.5 * (static_cast<double>(i + 1) + static_cast<double>(j));
    rank_sum += mid_rank * static_cast<double>(pos_in_tie);
    i = j;
  }
  const double np = static_cast<double>(n_pos), nn = static_cast<double>(n_neg);
  return (rank_sum - np * (np + 1) / 2) / (np * nn);
}

absl::StatusOr<double> LogLoss(std::span<const double> probabilities,
                               std::span<const double> labels) {
  if (probabilities.size() != labels.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(probabilities.size(), " probabilities but ", labels.size(), " labels"));
  }
  if (probabilities.empty()) return absl::InvalidArgumentError("log loss of an empty set");
  constexpr double kEps = 1e-15;
  double sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double p = probabilities[i], y = labels[i];
    if (!(p >= 0 && p <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("probability ", i, " must be in [0, 1], got ", p));
    }
    if (!(y >= 0 && y <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("label ", i, " must be in [0, 1], got ", y));
    }
    const double q = std::clamp(p, kEps, 1 - kEps);
    sum -= y * std::log(q) + (1 - y) * std::log1p(-q);
  }
  return sum / static_cast<double>(labels.size());
}

absl::StatusOr<NdcgResult> NdcgAtK(std::span<const ScoredGroup> groups, int k) {
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("k must be >= 1, got ", k));
  NdcgResult out;
  double sum = 0;
  std::vector<size_t> order;
  std::vector<double> ideal;
  for (size_t g = 0; g < groups.size(); ++g) {
    const ScoredGroup& grp = groups[g];
    if (grp.scores.size() != grp.relevance.size()) {
      return absl::InvalidArgumentError(absl::StrCat("group ", g, ": ", grp.scores.size(),
                                                     " scores but ", grp.relevance.size(),
                                                     " relevance values"));
    }
    for (size_t i = 0; i < grp.scores.size(); ++i) {
      if (!std::isfinite(grp.scores[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat("group ", g, ": score ", i, " is not finite"));
      }
      if (!(grp.relevance[i] >= 0) || !std::isfinite(grp.relevance[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "group ", g, ": relevance ", i, " must be finite and >= 0, got ", grp.relevance[i]));
      }
    }
    const size_t n = grp.scores.size();
    const size_t top = std::min<size_t>(static_cast<size_t>(k), n);
    ideal.assign(grp.relevance.begin(), grp.relevance.end());
    std::sort(ideal.begin(), ideal.end(), std::greater<>());
    double idcg = 0;
    for (size_t r = 0; r < top; ++r) idcg += (std::exp2(ideal[r]) - 1) / std::log2(r + 2.0);
    if (!(idcg > 0)) {
      out.skipped_groups++;
      continue;
    }
    order.resize(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (grp.scores[a] != grp.scores[b]) return grp.scores[a] > grp.scores[b];
      return grp.relevance[a] < grp.relevance[b];
    });
    double dcg = 0;
    for (size_t r = 0; r < top; ++r) {
      dcg += (std::exp2(grp.relevance[order[r]]) - 1) / std::log2(r + 2.0);
    }
    sum += dcg / idcg;
    out.groups++;
  }
  out.ndcg = out.groups > 0 ? sum / static_cast<double>(out.groups) : 0;
  return out;
}

}  // namespace recstack::stats
