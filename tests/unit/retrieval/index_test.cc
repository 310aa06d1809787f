#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "services/retrieval/candidate_index.h"
#include "services/retrieval/model_holder.h"
#include "services/retrieval/retriever.h"
#include "services/training/core/als.h"
#include "services/training/core/dataset.h"

namespace recstack::retrieval {
namespace {

math::Matrix RandomMatrix(int64_t n, int64_t d, uint64_t seed) {
  math::Matrix m(n, d);
  math::Rng rng(seed);
  for (size_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.Normal());
  return m;
}

TEST(ExactIndex, EqualsNaiveFullSort) {
  for (int64_t n : {1, 7, 100, 5000, 10000}) {
    math::Matrix items = RandomMatrix(n, 16, n);
    // Duplicate rows make exact ties: the smaller index must win.
    if (n > 10) std::copy(items.row(3), items.row(3) + 16, items.row(n - 1));
    ExactIndex index(items);
    math::Matrix queries = RandomMatrix(20, 16, 99);
    for (int64_t q = 0; q < queries.rows(); ++q) {
      std::vector<float> scores(n);
      for (int64_t i = 0; i < n; ++i) scores[i] = math::Dot(items.row(i), queries.row(q), 16);
      for (int k : {1, 10, 100}) {
        auto got = index.Search(queries.row(q), k, nullptr);
        auto want = math::TopKBySort(scores.data(), n, k);
        ASSERT_EQ(got.size(), want.size());
        for (size_t j = 0; j < got.size(); ++j) {
          EXPECT_EQ(got[j].id, want[j].id) << "n=" << n << " k=" << k << " rank " << j;
          EXPECT_NEAR(got[j].score, want[j].score, 1e-4);
        }
      }
    }
  }
}

TEST(ExactIndex, SkipsExcludedItems) {
  math::Matrix items = RandomMatrix(50, 4, 1);
  ExactIndex index(items);
  std::vector<float> q = {1, 0, 0, 0};
  auto all = index.Search(q.data(), 5, nullptr);
  auto skipped = index.Search(q.data(), 5, [&](int32_t id) { return id == all[0].id; });
  EXPECT_EQ(skipped[0].id, all[1].id);
  for (const auto& s : skipped) EXPECT_NE(s.id, all[0].id);
}

TEST(HnswIndex, ReachesTargetRecallAgainstExact) {
  math::Matrix items = RandomMatrix(3000, 16, 5);
  ExactIndex exact(items);
  HnswIndex hnsw(items, {.m = 16, .ef_construction = 64, .ef_search = 16});
  math::Matrix queries = RandomMatrix(100, 16, 6);
  const double recall = hnsw.TuneEf(exact, queries, 0.95);
  EXPECT_GE(recall, 0.95) << "ef " << hnsw.ef();
  EXPECT_NEAR(RecallAtK(hnsw, exact, queries, 10), recall, 1e-9);
  // Skipped ids never come back and k results still do.
  auto top = hnsw.Search(queries.row(0), 10, [](int32_t id) { return id % 2 == 0; });
  ASSERT_EQ(top.size(), 10u);
  for (const auto& t : top) EXPECT_EQ(t.id % 2, 1);
  EXPECT_GT(hnsw.memory_bytes(), 0u);
}

TEST(FoldIn, MatchesTheTrainedUserVector) {
  // Train a small implicit model; a user folded in from the same history
  // gets (nearly) the vector training gave it.
  math::Rng rng(3);
  std::vector<training::Row> rows;
  for (int u = 0; u < 300; ++u) {
    // 15 distinct items per user (3 is coprime with 40), in 3 taste groups.
    const int offset = static_cast<int>(rng.Below(40));
    for (int j = 0; j < 15; ++j) rows.push_back({u, static_cast<int32_t>((u % 3) * 40 + (offset + 3 * j) % 40), 1.0f});
  }
  auto m = training::BuildMatrix(300, 120, rows, true);
  training::AlsParams p{.factors = 8, .iterations = 10, .regularization = 2.0f, .alpha = 1.0f,
                        .solver = training::Solver::kCholesky, .threads = 1};
  training::ImplicitAls als(p);
  ASSERT_TRUE(als.Fit(m.by_user, m.by_item).ok());
  model::ItemFactors items;
  items.meta.factors = 8;
  items.meta.regularization = 2.0f;
  items.meta.alpha = 1.0f;
  items.meta.version = "v1";
  for (int i = 0; i < 120; ++i) items.item_ids.push_back("i" + std::to_string(i));
  items.factors.assign(als.item_factors().data(), als.item_factors().data() + als.item_factors().size());
  auto serving = BuildServingModel(items, {}, false);
  double worst = 1;
  int checked = 0;
  for (int u = 0; u < 300; u += 7) {
    std::vector<int32_t> hist(m.by_user.indices.begin() + m.by_user.indptr[u],
                              m.by_user.indices.begin() + m.by_user.indptr[u + 1]);
    ASSERT_EQ(hist.size(), 15u);
    ++checked;
    std::vector<float> x = FoldIn(*serving, hist);
    const float* t = als.user_factors().row(u);
    const double cos = math::Dot(x.data(), t, 8) /
                       (std::sqrt(math::Dot(x.data(), x.data(), 8)) * std::sqrt(math::Dot(t, t, 8)));
    worst = std::min(worst, cos);
  }
  EXPECT_EQ(checked, 43);
  EXPECT_GT(worst, 0.99);
}

TEST(UserVectorCache, EvictsLeastRecentlyUsed) {
  UserVectorCache cache(2);
  cache.Put("a", {1});
  cache.Put("b", {2});
  ASSERT_TRUE(cache.Get("a").has_value());  // a is now the most recent
  cache.Put("c", {3});
  EXPECT_FALSE(cache.Get("b").has_value());
  EXPECT_TRUE(cache.Get("a").has_value());
  EXPECT_TRUE(cache.Get("c").has_value());
  EXPECT_EQ(cache.hits(), 3u);
  EXPECT_EQ(cache.misses(), 1u);
}

}  // namespace
}  // namespace recstack::retrieval
