#include "common/ml/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace recstack::ml {

double LogLoss(std::span<const float> labels, std::span<const double> probs,
               std::span<const float> weights) {
  constexpr double kEps = 1e-15;
  double sum = 0, total_weight = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double w = weights.empty() ? 1.0 : weights[i];
    const double p = std::clamp(probs[i], kEps, 1 - kEps);
    sum += w * (labels[i] > 0.5f ? -std::log(p) : -std::log1p(-p));
    total_weight += w;
  }
  return total_weight > 0 ? sum / total_weight : 0.0;
}

double Auc(std::span<const float> labels, std::span<const double> scores) {
  const size_t n = labels.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Sum of the mid-ranks (1-based) of the positives.
  double rank_sum = 0;
  size_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t t = i; t < j; ++t) {
      if (labels[order[t]] > 0.5f) {
        rank_sum += mid_rank;
        ++positives;
      }
    }
    i = j;
  }
  const size_t negatives = n - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  const double p = static_cast<double>(positives);
  return (rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

double NdcgAtK(std::span<const float> labels, std::span<const double> scores,
               std::span<const uint64_t> groups, int k) {
  double sum = 0;
  size_t counted = 0;
  std::vector<size_t> order;
  std::vector<float> ideal;
  for (size_t begin = 0; begin < labels.size();) {
    size_t end = begin + 1;
    while (end < labels.size() && groups[end] == groups[begin]) ++end;
    order.resize(end - begin);
    std::iota(order.begin(), order.end(), begin);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    ideal.assign(labels.begin() + begin, labels.begin() + end);
    std::sort(ideal.begin(), ideal.end(), std::greater<>());
    double dcg = 0, idcg = 0;
    const size_t top = std::min(order.size(), static_cast<size_t>(std::max(k, 0)));
    for (size_t r = 0; r < top; ++r) {
      const double discount = 1.0 / std::log2(static_cast<double>(r) + 2);
      dcg += (std::exp2(labels[order[r]]) - 1) * discount;
      idcg += (std::exp2(ideal[r]) - 1) * discount;
    }
    if (idcg > 0) {
      sum += dcg / idcg;
      ++counted;
    }
    begin = end;
  }
  return counted > 0 ? sum / static_cast<double>(counted) : 0.0;
}

}  // namespace recstack::ml
