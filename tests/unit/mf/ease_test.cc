// EASE against its definition: the closed form equals the per-column
// constrained ridge regression solved directly; the two Gram paths agree;
// a planted structure is recovered; bad input is refused clearly.
#include "common/mf/ease.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "common/data/npy.h"
#include "common/data/synthetic.h"
#include "common/math/rng.h"
#include "common/mf/dataset.h"
#include "common/mf/trainer.h"

namespace recstack::mf {
namespace {

InteractionMatrix RandomData(int users, int items, double density, uint64_t seed) {
  math::Rng rng(seed);
  std::vector<Row> rows;
  for (int u = 0; u < users; ++u) {
    for (int i = 0; i < items; ++i) {
      if (rng.Uniform() < density) rows.push_back({u, i, static_cast<float>(1 + rng.Below(5))});
    }
  }
  return BuildMatrix(users, items, std::move(rows), true);
}

// Solves A x = b (n x n, row-major) by Gaussian elimination with partial
// pivoting, in double: the oracle.
std::vector<double> DirectSolve(std::vector<double> a, std::vector<double> b) {
  const int n = static_cast<int>(b.size());
  for (int c = 0; c < n; ++c) {
    int piv = c;
    for (int r = c + 1; r < n; ++r) {
      if (std::abs(a[r * n + c]) > std::abs(a[piv * n + c])) piv = r;
    }
    for (int j = 0; j < n; ++j) std::swap(a[c * n + j], a[piv * n + j]);
    std::swap(b[c], b[piv]);
    for (int r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] / a[c * n + c];
      for (int j = c; j < n; ++j) a[r * n + j] -= f * a[c * n + j];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n);
  for (int r = n - 1; r >= 0; --r) {
    double s = b[r];
    for (int j = r + 1; j < n; ++j) s -= a[r * n + j] * x[j];
    x[r] = s / a[r * n + r];
  }
  return x;
}

// Column j of B minimises |X_j - X_{-j} b|^2 + lambda |b|^2 (b_j = 0), i.e.
// (X_{-j}^T X_{-j} + lambda I) b = X_{-j}^T X_j.
TEST(Ease, ClosedFormSolvesTheConstrainedLeastSquares) {
  const int users = 40, items = 9;
  const float lambda = 3.0f;
  auto m = RandomData(users, items, 0.35, 5);
  for (bool binarize : {true, false}) {
    EaseParams p{.lambda = lambda, .binarize = binarize, .threads = 1};
    auto b = FitEase(m.by_user, m.by_item, p);
    ASSERT_TRUE(b.ok()) << b.status();
    // Dense X in double.
    std::vector<double> x(users * items, 0.0);
    for (int u = 0; u < users; ++u) {
      for (int64_t q = m.by_user.indptr[u]; q < m.by_user.indptr[u + 1]; ++q) {
        x[u * items + m.by_user.indices[q]] = binarize ? 1.0 : m.by_user.values[q];
      }
    }
    for (int j = 0; j < items; ++j) {
      EXPECT_EQ(b->at(j, j), 0.0f) << "diagonal " << j;
      std::vector<int> others;
      for (int i = 0; i < items; ++i) {
        if (i != j) others.push_back(i);
      }
      const int n = items - 1;
      std::vector<double> a(n * n, 0.0), rhs(n, 0.0);
      for (int r = 0; r < n; ++r) {
        for (int c = 0; c < n; ++c) {
          for (int u = 0; u < users; ++u)
            a[r * n + c] += x[u * items + others[r]] * x[u * items + others[c]];
        }
        a[r * n + r] += lambda;
        for (int u = 0; u < users; ++u) rhs[r] += x[u * items + others[r]] * x[u * items + j];
      }
      const std::vector<double> want = DirectSolve(a, rhs);
      for (int r = 0; r < n; ++r) {
        EXPECT_NEAR(b->at(others[r], j), want[r], 1e-4 + 1e-3 * std::abs(want[r]))
            << "B[" << others[r] << "][" << j << "] binarize " << binarize;
      }
    }
  }
}

TEST(Ease, SparseAndSyrkGramsAgree) {
  auto m = RandomData(300, 70, 0.1, 9);
  for (bool binarize : {true, false}) {
    math::Matrix a, b;
    GramSparse(m.by_user, m.by_item, binarize, 2, &a);
    GramSyrk(m.by_user, binarize, 2, &b);
    ASSERT_EQ(a.rows(), 70);
    ASSERT_EQ(b.rows(), 70);
    for (int64_t i = 0; i < 70; ++i) {
      for (int64_t j = 0; j < 70; ++j) {
        ASSERT_NEAR(a.at(i, j), b.at(i, j), 1e-3f * (1 + std::abs(b.at(i, j)))) << i << "," << j;
        ASSERT_EQ(a.at(i, j), a.at(j, i));
      }
    }
    // Spot check one entry against its definition.
    double want = 0;
    for (int64_t u = 0; u < m.by_user.rows; ++u) {
      float x3 = 0, x5 = 0;
      for (int64_t q = m.by_user.indptr[u]; q < m.by_user.indptr[u + 1]; ++q) {
        const float v = binarize ? 1.0f : m.by_user.values[q];
        if (m.by_user.indices[q] == 3) x3 = v;
        if (m.by_user.indices[q] == 5) x5 = v;
      }
      want += x3 * x5;
    }
    EXPECT_FLOAT_EQ(a.at(3, 5), static_cast<float>(want));
  }
}

TEST(Ease, InvertSpdInvertsAndRefusesIndefinite) {
  const int n = 150;  // above OpenBLAS's blocking, so the blocked path runs
  math::Rng rng(3);
  math::Matrix r(n, n), a(n, n);
  for (size_t i = 0; i < r.size(); ++i) r.data()[i] = static_cast<float>(rng.Uniform() - 0.5);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int t = 0; t < n; ++t) s += r.at(t, i) * r.at(t, j);
      a.at(i, j) = static_cast<float>(s + (i == j ? 1.0 : 0.0));
    }
  }
  math::Matrix inv = a;
  ASSERT_TRUE(InvertSpd(&inv, 2).ok());
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int t = 0; t < n; ++t) s += static_cast<double>(a.at(i, t)) * inv.at(t, j);
      worst = std::max(worst, std::abs(s - (i == j ? 1.0 : 0.0)));
      ASSERT_EQ(inv.at(i, j), inv.at(j, i));
    }
  }
  EXPECT_LT(worst, 1e-2);
  math::Matrix bad(3, 3);
  bad.at(0, 0) = 1;
  bad.at(1, 1) = -1;
  bad.at(2, 2) = 1;
  EXPECT_EQ(InvertSpd(&bad, 1).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Ease, BadInputIsRefusedClearly) {
  auto m = RandomData(20, 8, 0.3, 1);
  for (float lambda : {0.0f, -1.0f, NAN}) {
    auto b = FitEase(m.by_user, m.by_item, {.lambda = lambda});
    ASSERT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(b.status().message().find("lambda"), std::string_view::npos) << b.status();
  }
  auto big = FitEase(m.by_user, m.by_item, {.max_items = 5});
  ASSERT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("8 items is above the limit of 5"), std::string_view::npos)
      << big.status();
  // The trainer refuses before building anything.
  std::vector<Row> rows;
  for (int u = 0; u < 4; ++u) {
    for (int i = 0; i < 8; ++i) rows.push_back({u, i, 1.0f});
  }
  TrainConfig cfg;
  cfg.algorithm = Algorithm::kEase;
  cfg.ease.max_items = 5;
  auto res = Train(4, 8, rows, {}, cfg);
  ASSERT_EQ(res.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(res.status().message().find("above the limit"), std::string_view::npos);
  cfg.ease.max_items = 100;
  cfg.ease.lambda = 0;
  EXPECT_EQ(Train(4, 8, rows, {}, cfg).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseAlgorithmName("ease").value(), Algorithm::kEase);
  EXPECT_EQ(AlgorithmName(Algorithm::kEase), "ease");
}

TEST(Ease, TruncatedScoresEqualFullScoresWhenNothingIsCut) {
  auto m = RandomData(50, 30, 0.2, 2);
  auto b = FitEase(m.by_user, m.by_item, {.lambda = 5.0f, .threads = 1});
  ASSERT_TRUE(b.ok());
  EaseNeighbours all = TopNPerRow(*b, 29, 2);
  EaseNeighbours few = TopNPerRow(*b, 3, 2);
  for (int64_t i = 0; i < 30; ++i) {
    ASSERT_EQ(few.indptr[i + 1] - few.indptr[i], 3);
    for (int64_t p = few.indptr[i]; p + 1 < few.indptr[i + 1]; ++p) {
      EXPECT_GE(few.weights[p], few.weights[p + 1]);
      EXPECT_NE(few.ids[p], i);
    }
  }
  std::vector<float> full(30), truncated(30);
  for (int u = 0; u < 50; ++u) {
    const int64_t p0 = m.by_user.indptr[u], len = m.by_user.RowLength(u);
    std::vector<float> ones(len, 1.0f);
    EaseScores(*b, m.by_user.indices.data() + p0, ones.data(), len, full.data());
    TruncatedScores(all, 30, m.by_user.indices.data() + p0, ones.data(), len, truncated.data());
    for (int j = 0; j < 30; ++j) ASSERT_NEAR(full[j], truncated[j], 1e-5f) << u << " " << j;
  }
}

// The generator plants item factors V: items with similar true vectors are
// bought by the same users, so EASE's heaviest weights of an item should
// point at items whose true vectors are close; random items are not.
TEST(Ease, RecoversThePlantedItemStructure) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("recstack-ease-" + std::to_string(::getpid())))
          .string();
  data::SyntheticParams sp{.users = 3000,
                           .items = 300,
                           .interactions = 90000,
                           .rank = 4,
                           .seed = 11,
                           .zipf_exponent = 0.5,
                           .beta = 4.0};
  ASSERT_TRUE(data::GenerateSynthetic(sp, dir).ok());
  auto ds = LoadDataset(dir + "/interactions.csv", {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  auto v = data::ReadNpyFloat(dir + "/truth/item_factors.npy");
  ASSERT_TRUE(v.ok()) << v.status();
  std::vector<std::string> truth_ids;
  {
    std::ifstream in(dir + "/truth/items.txt");
    for (std::string line; std::getline(in, line);) truth_ids.push_back(line);
  }
  const int rank = sp.rank;
  ASSERT_EQ(static_cast<int>(truth_ids.size()) * rank, static_cast<int>(v->data.size()));
  // Unit true vectors in the data set's item order.
  const int32_t n = ds->items.size();
  std::vector<std::vector<double>> unit(n);
  for (size_t t = 0; t < truth_ids.size(); ++t) {
    auto idx = ds->items.Find(truth_ids[t]);
    if (!idx) continue;
    std::vector<double> row(v->data.begin() + t * rank, v->data.begin() + (t + 1) * rank);
    double norm = 0;
    for (double x : row) norm += x * x;
    for (double& x : row) x /= std::sqrt(norm);
    unit[*idx] = row;
  }
  auto cosine = [&](int a, int b) {
    return std::inner_product(unit[a].begin(), unit[a].end(), unit[b].begin(), 0.0);
  };
  auto m = BuildMatrix(ds->users.size(), n, ds->rows, true);
  auto b = FitEase(m.by_user, m.by_item, {.lambda = 100.0f});
  ASSERT_TRUE(b.ok()) << b.status();
  EaseNeighbours nb = TopNPerRow(*b, 5, 2);
  double near = 0, random = 0;
  int64_t pairs = 0;
  math::Rng rng(1);
  for (int32_t i = 0; i < n; ++i) {
    for (int64_t p = nb.indptr[i]; p < nb.indptr[i + 1]; ++p) {
      near += cosine(i, nb.ids[p]);
      random += cosine(i, static_cast<int>(rng.Below(n)));
      pairs++;
    }
  }
  near /= pairs;
  random /= pairs;
  // Thresholds not calibrated against a recorded run (the test passes);
  // rank 4: a random pair's cosine has standard deviation 0.5, so the mean
  // over 1500 random pairs is within +-0.05 of 0.
  EXPECT_GT(near, 0.6) << "random " << random;
  EXPECT_LT(std::abs(random), 0.1);
  std::filesystem::remove_all(dir);
}

TEST(Ease, TrainReportsRankingMetrics) {
  auto m = RandomData(80, 40, 0.25, 4);
  std::vector<Row> train, test;
  for (int64_t u = 0; u < 80; ++u) {
    for (int64_t q = m.by_user.indptr[u]; q < m.by_user.indptr[u + 1]; ++q) {
      Row r{static_cast<int32_t>(u), m.by_user.indices[q], m.by_user.values[q]};
      (q % 4 == 0 ? test : train).push_back(r);
    }
  }
  TrainConfig cfg;
  cfg.algorithm = Algorithm::kEase;
  cfg.ease.lambda = 10.0f;
  auto res = Train(80, 40, train, test, cfg);
  ASSERT_TRUE(res.ok()) << res.status();
  ASSERT_EQ(res->history.size(), 1u);
  EXPECT_EQ(res->model.ease_weights.rows(), 40);
  EXPECT_GT(res->history[0].loss, 0.0);
  for (const char* key : {"ndcg@10", "recall@10", "precision@10", "map@10", "coverage"}) {
    ASSERT_TRUE(res->metrics.count(key)) << key;
  }
  // The metrics are the ones EvaluateRankingWith gives for x_u B.
  auto again =
      EvaluateRankingWith(ModelScorer(res->model, BuildMatrix(80, 40, train, true).by_user, 1), 40,
                          BuildMatrix(80, 40, train, true).by_user, test, 10);
  EXPECT_DOUBLE_EQ(again.ndcg, res->metrics.at("ndcg@10"));
}

}  // namespace
}  // namespace recstack::mf
