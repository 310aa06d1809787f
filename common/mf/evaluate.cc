#include "common/mf/evaluate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/math/blas.h"
#include "common/math/topk.h"

namespace recstack::mf {
namespace {

// Users scored per block (scores are kEvalBlock x items floats).
constexpr int64_t kEvalBlock = 256;

}  // namespace

void AddUserMetrics(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant,
                    int64_t n_relevant, int k, RankingMetrics* sum) {
  double dcg = 0, ap = 0;
  int hits = 0;
  for (size_t j = 0; j < ranked.size() && static_cast<int>(j) < k; ++j) {
    if (std::binary_search(relevant.begin(), relevant.end(), ranked[j])) {
      ++hits;
      dcg += 1.0 / std::log2(static_cast<double>(j) + 2.0);
      ap += static_cast<double>(hits) / static_cast<double>(j + 1);
    }
  }
  const int64_t ideal_n = std::min<int64_t>(k, n_relevant);
  double idcg = 0;
  for (int64_t j = 0; j < ideal_n; ++j) idcg += 1.0 / std::log2(static_cast<double>(j) + 2.0);
  sum->precision += static_cast<double>(hits) / k;
  sum->recall += n_relevant > 0 ? static_cast<double>(hits) / n_relevant : 0;
  sum->ndcg += idcg > 0 ? dcg / idcg : 0;
  sum->map += ideal_n > 0 ? ap / ideal_n : 0;
  sum->users++;
}

RankingMetrics EvaluateRanking(const math::Matrix& U, const math::Matrix& V,
                               const math::CsrMatrix& train, const std::vector<Row>& test, int k,
                               int threads) {
  const int64_t n_items = V.rows(), d = V.cols();
  math::Matrix ub(kEvalBlock, d);
  math::SetBlasThreads(threads);
  auto score = [&](const int32_t* users, int64_t nb, float* scores) {
    for (int64_t j = 0; j < nb; ++j) std::copy(U.row(users[j]), U.row(users[j]) + d, ub.row(j));
    math::Gemm(false, true, nb, n_items, d, 1.0f, ub.data(), d, V.data(), d, 0.0f, scores, n_items);
  };
  return EvaluateRankingWith(score, n_items, train, test, k);
}

RankingMetrics EvaluateRankingWith(const BlockScorer& score_block, int64_t n_items,
                                   const math::CsrMatrix& train, const std::vector<Row>& test,
                                   int k) {
  RankingMetrics sum;
  // Test rows grouped by user; unknown users are a group of their own each
  // (all misses), unknown items count in the user's relevant total.
  std::map<int32_t, std::vector<int32_t>> rel;
  std::map<int32_t, int64_t> n_rel;
  int64_t unknown_user_rows = 0;
  for (const Row& r : test) {
    if (r.user < 0) {
      unknown_user_rows++;
      continue;
    }
    n_rel[r.user]++;
    if (r.item >= 0) rel[r.user].push_back(r.item);
    else sum.unknown_rows++;
  }
  sum.unknown_rows += unknown_user_rows;
  std::vector<int32_t> users;
  for (auto& [u, items] : n_rel) users.push_back(u);
  for (auto& [u, items] : rel) {
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
  }
  std::vector<char> recommended(n_items, 0);
  std::vector<float> scores(kEvalBlock * n_items);
  std::vector<int32_t> ranked;
  for (size_t b = 0; b < users.size(); b += kEvalBlock) {
    const int64_t nb = std::min<int64_t>(kEvalBlock, users.size() - b);
    score_block(users.data() + b, nb, scores.data());
    for (int64_t j = 0; j < nb; ++j) {
      const int32_t u = users[b + j];
      float* s = scores.data() + j * n_items;
      for (int64_t p = train.indptr[u]; p < train.indptr[u + 1]; ++p) s[train.indices[p]] = NAN;
      auto top = math::TopK(s, n_items, k);
      ranked.clear();
      for (const auto& t : top) {
        ranked.push_back(t.id);
        recommended[t.id] = 1;
      }
      auto it = rel.find(u);
      static const std::vector<int32_t> kNone;
      AddUserMetrics(ranked, it == rel.end() ? kNone : it->second, n_rel[u], k, &sum);
    }
  }
  // Users training never saw (negative ids, one per user): every test row
  // is a miss, so each counts as a user with zero on every metric.
  std::vector<int32_t> unknown_users;
  for (const Row& r : test) {
    if (r.user < 0) unknown_users.push_back(r.user);
  }
  std::sort(unknown_users.begin(), unknown_users.end());
  sum.users += std::unique(unknown_users.begin(), unknown_users.end()) - unknown_users.begin();
  if (sum.users > 0) {
    sum.precision /= sum.users;
    sum.recall /= sum.users;
    sum.ndcg /= sum.users;
    sum.map /= sum.users;
  }
  sum.coverage =
      static_cast<double>(std::accumulate(recommended.begin(), recommended.end(), int64_t{0})) /
      std::max<int64_t>(1, n_items);
  return sum;
}

std::map<std::string, double> ToMap(const RankingMetrics& m, int k) {
  return {{absl::StrCat("precision@", k), m.precision},
          {absl::StrCat("recall@", k), m.recall},
          {absl::StrCat("ndcg@", k), m.ndcg},
          {absl::StrCat("map@", k), m.map},
          {"coverage", m.coverage},
          {"eval_users", static_cast<double>(m.users)},
          {"unknown_test_rows", static_cast<double>(m.unknown_rows)}};
}

std::map<std::string, double> ToMap(const RatingMetrics& m) {
  return {{"rmse", m.rmse},
          {"mae", m.mae},
          {"test_rows", static_cast<double>(m.rows)},
          {"fallback_rows", static_cast<double>(m.fallback_rows)}};
}

}  // namespace recstack::mf
