#pragma once

// Held-out evaluation (DESIGN §4). Ranking metrics use binary relevance: a
// user's test items are relevant, training items are excluded from the
// ranking, and the ideal DCG is over min(K, |test items|). Test rows whose
// user or item training never saw are misses (they stay in the
// denominators) and are counted.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/math/csr.h"
#include "common/math/dense.h"
#include "common/mf/dataset.h"

namespace recstack::mf {

struct RankingMetrics {
  double precision = 0, recall = 0, ndcg = 0, map = 0;
  double coverage = 0;  // distinct recommended items / catalogue size
  int64_t users = 0;    // users with at least one test row
  int64_t unknown_rows = 0;
};

// Metrics of one user's ranked list against its relevant set: exposed for
// tests. `ranked` best first; `relevant` sorted ascending; `n_relevant`
// counts relevant items the ranking could not contain (unknown items) too.
void AddUserMetrics(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant,
                    int64_t n_relevant, int k, RankingMetrics* sum);

// Scores every item for every test user as user_factors . item_factors
// (sgemm over blocks of users), excludes the user's training items, and
// averages the metrics at k over test users. `threads` for BLAS.
RankingMetrics EvaluateRanking(const math::Matrix& user_factors, const math::Matrix& item_factors,
                               const math::CsrMatrix& train_by_user, const std::vector<Row>& test,
                               int k, int threads);

// The same metrics for any model: `score` fills scores (count x n_items,
// row-major) for `count` (<= 256) users at a time.
using BlockScorer = std::function<void(const int32_t* users, int64_t count, float* scores)>;
RankingMetrics EvaluateRankingWith(const BlockScorer& score, int64_t n_items,
                                   const math::CsrMatrix& train_by_user,
                                   const std::vector<Row>& test, int k);

struct RatingMetrics {
  double rmse = 0, mae = 0;
  int64_t rows = 0;
  int64_t fallback_rows = 0;  // user or item unknown: mean + known bias
};

// The metrics' names as they appear in JSON and Redis: "precision@10", ...
std::map<std::string, double> ToMap(const RankingMetrics& m, int k);
std::map<std::string, double> ToMap(const RatingMetrics& m);

}  // namespace recstack::mf
