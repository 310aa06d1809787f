#include <algorithm>
#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "common/mf/als.h"
#include "common/mf/dataset.h"
#include "common/retrieval/candidate_index.h"
#include "common/retrieval/model_holder.h"
#include "common/retrieval/retriever.h"

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

TEST(Int8ExactIndex, SameResultsAsExact) {
  // Rows of very different norms (per-row scales), exact duplicates (ties
  // broken by id) and near-duplicates one quantisation step apart: the int8
  // filter must not change a single id or score.
  for (int64_t d : {8, 16, 64, 100}) {
    const int64_t n = 6000;
    math::Matrix items = RandomMatrix(n, d, 40 + d);
    math::Rng rng(d);
    for (int64_t i = 0; i < n; ++i) {
      const float scale = static_cast<float>(std::exp(rng.Normal()));
      for (int64_t j = 0; j < d; ++j) items.row(i)[j] *= scale;
    }
    for (int64_t i = 0; i < 50; ++i) {
      std::copy(items.row(i), items.row(i) + d, items.row(n - 1 - i));
      std::copy(items.row(i), items.row(i) + d, items.row(n - 101 - i));
      items.row(n - 101 - i)[0] += 1e-6f;
    }
    ExactIndex exact(items);
    Int8ExactIndex int8(items);
    EXPECT_EQ(int8.memory_bytes(), static_cast<size_t>(n * (d + 8)));
    math::Matrix queries = RandomMatrix(60, d, 7 + d);
    // Queries equal to items (the holder's recall check) and a zero query.
    for (int64_t q = 0; q < 10; ++q)
      std::copy(items.row(q * 37), items.row(q * 37) + d, queries.row(q));
    std::fill(queries.row(10), queries.row(10) + d, 0.0f);
    const Skip odd = [](int32_t id) { return id % 2 == 1; };
    for (int64_t q = 0; q < queries.rows(); ++q) {
      for (int k : {1, 10, 200}) {
        for (const Skip& skip : {Skip(), odd}) {
          auto want = exact.Search(queries.row(q), k, skip);
          auto got = int8.Search(queries.row(q), k, skip);
          ASSERT_EQ(got, want) << "d=" << d << " q=" << q << " k=" << k;
        }
      }
    }
    // The filter does filter.
    int8.Search(queries.row(20), 10, nullptr);
    EXPECT_LT(Int8ExactIndex::last_rescored(), n / 10);
  }
}

TEST(HnswIndex, LinksUpToTwoMAtLevelZero) {
  // 2M + 1 orthonormal vectors: every pair is equally far (1 - 0), so the
  // neighbour heuristic keeps every candidate. New elements link to up to 2M
  // others at level 0 (as FAISS does; stock hnswlib stops at M), which makes
  // the level-0 graph complete: 2M links each.
  const int m = 8, n = 2 * m + 1;
  math::Matrix items(n, n);
  std::fill(items.data(), items.data() + items.size(), 0.0f);
  for (int i = 0; i < n; ++i) items.row(i)[i] = 1.0f;
  HnswIndex hnsw(items, {.m = m, .ef_construction = 64, .threads = 1});
  EXPECT_DOUBLE_EQ(hnsw.level0_mean_degree(), 2.0 * m);
}

TEST(ModelHolder, TunesEfToTargetRecallOnOwnFactors) {
  // BuildServingModel (the holder's build) gets HNSW for catalogues above
  // hnsw_min_items and raises ef until recall@10 against exact, with item
  // vectors as queries, reaches the target.
  const int64_t n = 5000, d = 16;
  math::Matrix y = RandomMatrix(n, d, 11);
  model::ItemFactors items;
  items.meta.factors = d;
  items.meta.version = "v1";
  for (int64_t i = 0; i < n; ++i) items.item_ids.push_back("i" + std::to_string(i));
  items.factors.assign(y.data(), y.data() + y.size());
  HolderOptions o;
  o.hnsw_min_items = 1000;
  o.hnsw = {.m = 8, .ef_construction = 16, .ef_search = 4, .threads = 1};
  o.hnsw_target_recall = 0.95;
  auto m = BuildServingModel(items, o, /*build_hnsw_now=*/true);
  const HnswIndex* h = m->hnsw.load();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(&m->index(), static_cast<const CandidateIndex*>(h));
  EXPECT_GE(m->hnsw_recall, 0.95);
  EXPECT_GT(h->ef(), 4) << "ef 4 already reached the target: the test does not exercise tuning";
  // The recall holds on other item vectors too (not only the tuning sample).
  math::Matrix queries(300, d);
  for (int64_t q = 0; q < 300; ++q)
    std::copy(y.row(n - 1 - q * 3), y.row(n - 1 - q * 3) + d, queries.row(q));
  EXPECT_GE(RecallAtK(*h, *m->exact, queries, 10), 0.93);
  // Below the threshold: exact only.
  o.hnsw_min_items = n + 1;
  auto small = BuildServingModel(items, o, true);
  EXPECT_EQ(small->hnsw.load(), nullptr);
  EXPECT_STREQ(small->index().name(), "exact");
  // The int8 exact option is a drop-in exact index.
  o.exact_int8 = true;
  auto q8 = BuildServingModel(items, o, false);
  EXPECT_STREQ(q8->index().name(), "exact_int8");
  EXPECT_EQ(q8->index().Search(y.row(3), 10, nullptr),
            small->index().Search(y.row(3), 10, nullptr));
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

// The filter applies inside the search: with each query's 200 nearest
// skipped (as a user's own items are the nearest to their vector), one
// search still returns k allowed ids with the recall of an unfiltered one.
TEST(HnswIndex, FilteredSearchKeepsRecallWhenTheNearestAreSkipped) {
  math::Matrix items = RandomMatrix(5000, 16, 7);
  ExactIndex exact(items);
  HnswIndex hnsw(items, {.m = 16, .ef_construction = 64, .ef_search = 16});
  math::Matrix queries = RandomMatrix(100, 16, 8);
  hnsw.TuneEf(exact, queries, 0.95);
  const double unfiltered = RecallAtK(hnsw, exact, queries, 50);
  double hits = 0, total = 0;
  for (int64_t q = 0; q < queries.rows(); ++q) {
    std::vector<char> nearest(items.rows(), 0);
    for (const auto& t : exact.Search(queries.row(q), 200, nullptr)) nearest[t.id] = 1;
    const Skip skip = [&](int32_t id) { return nearest[id] != 0; };
    auto truth = exact.Search(queries.row(q), 50, skip);
    auto got = hnsw.Search(queries.row(q), 50, skip);
    ASSERT_EQ(got.size(), 50u);
    std::set<int32_t> want;
    for (const auto& t : truth) want.insert(t.id);
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_FALSE(nearest[got[i].id]) << "a skipped id came back";
      if (i > 0) EXPECT_GE(got[i - 1].score, got[i].score);
      hits += want.count(got[i].id);
    }
    total += static_cast<double>(truth.size());
  }
  EXPECT_GE(hits / total, unfiltered - 0.05) << "unfiltered recall@50 " << unfiltered;
}

TEST(FoldIn, MatchesTheTrainedUserVector) {
  // Train a small implicit model; a user folded in from the same history
  // gets (nearly) the vector training gave it.
  math::Rng rng(3);
  std::vector<mf::Row> rows;
  for (int u = 0; u < 300; ++u) {
    // 15 distinct items per user (3 is coprime with 40), in 3 taste groups.
    const int offset = static_cast<int>(rng.Below(40));
    for (int j = 0; j < 15; ++j)
      rows.push_back({u, static_cast<int32_t>((u % 3) * 40 + (offset + 3 * j) % 40), 1.0f});
  }
  auto m = mf::BuildMatrix(300, 120, rows, true);
  mf::AlsParams p{.factors = 8,
                  .iterations = 10,
                  .regularization = 2.0f,
                  .alpha = 1.0f,
                  .solver = mf::Solver::kCholesky,
                  .threads = 1};
  mf::ImplicitAls als(p);
  ASSERT_TRUE(als.Fit(m.by_user, m.by_item).ok());
  model::ItemFactors items;
  items.meta.factors = 8;
  items.meta.regularization = 2.0f;
  items.meta.alpha = 1.0f;
  items.meta.version = "v1";
  for (int i = 0; i < 120; ++i) items.item_ids.push_back("i" + std::to_string(i));
  items.factors.assign(als.item_factors().data(),
                       als.item_factors().data() + als.item_factors().size());
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
    const double cos = math::Dot(x.data(), t, 8) / (std::sqrt(math::Dot(x.data(), x.data(), 8)) *
                                                    std::sqrt(math::Dot(t, t, 8)));
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

// The neighbour table against a brute-force oracle: every item's best
// cosines (itself excluded), best first; padding when the catalogue is small.
TEST(NeighbourTable, EqualsBruteForceCosines) {
  for (auto [n, per_item] : {std::pair<int64_t, int>{300, 50}, {130, 200}, {1, 3}}) {
    const int64_t d = 8;
    math::Matrix f = RandomMatrix(n, d, 17 + n);
    if (n > 10) std::fill(f.row(5), f.row(5) + d, 0.0f);  // a zero row: cosine 0 with all
    std::vector<float> norms(n);
    for (int64_t i = 0; i < n; ++i) norms[i] = std::sqrt(math::Dot(f.row(i), f.row(i), d));
    auto table = BuildNeighbourTable(f, norms, per_item);
    ASSERT_NE(table, nullptr);
    ASSERT_EQ(table->entries.size(), static_cast<size_t>(n * per_item));
    for (int64_t i = 0; i < n; ++i) {
      std::vector<std::pair<double, int32_t>> all;
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        double dot = 0;
        for (int64_t c = 0; c < d; ++c) dot += static_cast<double>(f.row(i)[c]) * f.row(j)[c];
        const double denom = static_cast<double>(norms[i]) * norms[j];
        all.push_back({denom > 0 ? dot / denom : 0.0, static_cast<int32_t>(j)});
      }
      std::sort(all.begin(), all.end(), [](auto& a, auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      const int want = std::min<int>(per_item, static_cast<int>(all.size()));
      for (int r = 0; r < per_item; ++r) {
        const math::ScoredId& got = table->entries[i * per_item + r];
        if (r >= want) {
          EXPECT_EQ(got.id, -1) << "padding of row " << i;
          continue;
        }
        // Near-ties may swap under float rounding: compare scores, and ids
        // where the gap is clear.
        EXPECT_NEAR(got.score, all[r].first, 1e-5) << "row " << i << " rank " << r;
        const bool clear =
            (r == 0 || all[r - 1].first - all[r].first > 1e-5) &&
            (r + 1 >= static_cast<int>(all.size()) || all[r].first - all[r + 1].first > 1e-5);
        if (clear && i != 5) EXPECT_EQ(got.id, all[r].second) << "row " << i << " rank " << r;
      }
    }
  }
}

TEST(NeighbourTable, StopsWhenCancelled) {
  math::Matrix f = RandomMatrix(1000, 8, 3);
  std::vector<float> norms(1000, 1.0f);
  int calls = 0;
  auto table = BuildNeighbourTable(f, norms, 10, [&] { return ++calls > 2; });
  EXPECT_EQ(table, nullptr);
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace recstack::retrieval
