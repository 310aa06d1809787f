#include "services/training/core/als.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "common/data/synthetic.h"
#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "common/math/topk.h"
#include "services/training/core/dataset.h"
#include "services/training/core/trainer.h"

namespace recstack::training {
namespace {

InteractionMatrix RandomImplicit(int users, int items, double density, uint64_t seed) {
  math::Rng rng(seed);
  std::vector<Row> rows;
  for (int u = 0; u < users; ++u) {
    for (int i = 0; i < items; ++i) {
      if (rng.Uniform() < density) rows.push_back({u, i, static_cast<float>(1 + rng.Below(5))});
    }
  }
  return BuildMatrix(users, items, std::move(rows), true);
}

TEST(ImplicitAls, ConjugateGradientMatchesExactSolve) {
  auto m = RandomImplicit(60, 40, 0.2, 1);
  AlsParams p{.factors = 8, .iterations = 1, .regularization = 0.1f, .alpha = 2.0f, .threads = 1};
  ImplicitAls exact({.factors = 8, .iterations = 1, .regularization = 0.1f, .alpha = 2.0f,
                     .solver = Solver::kCholesky, .threads = 1});
  ASSERT_TRUE(exact.Fit(m.by_user, m.by_item).ok());
  // Many CG steps on the same system converge to the exact solution.
  std::vector<float> gram(8 * 8, 0.0f);
  const auto& y = exact.item_factors();
  for (int a = 0; a < 8; ++a)
    for (int b = 0; b < 8; ++b) {
      for (int64_t i = 0; i < y.rows(); ++i) gram[a * 8 + b] += y.at(i, a) * y.at(i, b);
      if (a == b) gram[a * 8 + b] += 0.1f;
    }
  for (int u = 0; u < 60; ++u) {
    const int64_t s = m.by_user.indptr[u], n = m.by_user.indptr[u + 1] - s;
    std::vector<float> x_exact(8, 0.0f), x_cg(8, 0.0f);
    AlsParams pe = p;
    pe.solver = Solver::kCholesky;
    ImplicitAls::SolveUser(y, gram.data(), m.by_user.indices.data() + s, m.by_user.values.data() + s, n, pe,
                           x_exact.data());
    AlsParams pc = p;
    pc.cg_steps = 30;
    ImplicitAls::SolveUser(y, gram.data(), m.by_user.indices.data() + s, m.by_user.values.data() + s, n, pc,
                           x_cg.data());
    for (int a = 0; a < 8; ++a) EXPECT_NEAR(x_cg[a], x_exact[a], 1e-3) << "user " << u;
  }
}

TEST(ImplicitAls, WarmStartedCgTracksExactAls) {
  auto m = RandomImplicit(80, 50, 0.15, 2);
  AlsParams base{.factors = 6, .iterations = 10, .regularization = 0.5f, .alpha = 1.0f, .threads = 2};
  AlsParams exact_p = base;
  exact_p.solver = Solver::kCholesky;
  ImplicitAls cg(base), exact(exact_p);
  ASSERT_TRUE(cg.Fit(m.by_user, m.by_item).ok());
  ASSERT_TRUE(exact.Fit(m.by_user, m.by_item).ok());
  // Same objective reached within a few percent.
  EXPECT_NEAR(cg.Loss(m.by_user), exact.Loss(m.by_user), 0.05 * exact.Loss(m.by_user));
}

TEST(ImplicitAls, LossDecreases) {
  auto m = RandomImplicit(100, 60, 0.1, 3);
  ImplicitAls als({.factors = 8, .iterations = 8, .regularization = 0.1f});
  std::vector<double> losses;
  ASSERT_TRUE(als.Fit(m.by_user, m.by_item, [&](int) {
                   losses.push_back(als.Loss(m.by_user));
                   return true;
                 }).ok());
  ASSERT_EQ(losses.size(), 8u);
  EXPECT_LT(losses.back(), losses.front());
  for (size_t i = 1; i < losses.size(); ++i) EXPECT_LE(losses[i], losses[i - 1] * 1.001);
}

TEST(ExplicitAls, ReconstructsALowRankMatrixAtLambdaZero) {
  // A full rank-3 rating matrix is fit exactly with 3+ factors and no penalty.
  math::Rng rng(5);
  const int nu = 30, ni = 20, r = 3;
  std::vector<float> U(nu * r), V(ni * r);
  for (auto& x : U) x = static_cast<float>(rng.Normal());
  for (auto& x : V) x = static_cast<float>(rng.Normal());
  std::vector<Row> rows;
  for (int u = 0; u < nu; ++u)
    for (int i = 0; i < ni; ++i) rows.push_back({u, i, 3.0f + math::Dot(&U[u * r], &V[i * r], r)});
  auto m = BuildMatrix(nu, ni, rows, false);
  ExplicitAls als({.factors = 3, .iterations = 60, .regularization = 0.0f});
  ASSERT_TRUE(als.Fit(m.by_user, m.by_item).ok());
  double max_err = 0;
  for (const Row& row : rows) max_err = std::max<double>(max_err, std::abs(als.Predict(row.user, row.item) - row.value));
  EXPECT_LT(max_err, 0.02);
}

TEST(ExplicitAls, UnknownUserOrItemFallsBackToMeanAndBias) {
  std::vector<Row> rows = {{0, 0, 5}, {0, 1, 4}, {1, 0, 4}, {1, 1, 1}};
  auto m = BuildMatrix(2, 2, rows, false);
  ExplicitAls als({.factors = 2, .iterations = 5, .regularization = 0.1f});
  ASSERT_TRUE(als.Fit(m.by_user, m.by_item).ok());
  EXPECT_FLOAT_EQ(als.Predict(-1, -1), als.global_mean());
  EXPECT_FLOAT_EQ(als.Predict(-1, 0), std::clamp(als.global_mean() + als.item_bias()[0], 1.0f, 5.0f));
}

TEST(AlsParams, BadValuesAreRejectedClearly) {
  auto m = RandomImplicit(5, 5, 0.5, 4);
  for (auto [p, word] : std::vector<std::pair<AlsParams, std::string>>{
           {{.factors = 0}, "factors"}, {{.regularization = -1}, "regularization"},
           {{.alpha = -2}, "alpha"}, {{.cg_steps = 0}, "cg-steps"}, {{.threads = 0}, "threads"}}) {
    ImplicitAls als(p);
    auto st = als.Fit(m.by_user, m.by_item);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << word;
    EXPECT_NE(std::string(st.message()).find(word), std::string::npos) << st.message();
  }
  math::CsrMatrix empty;
  empty.rows = 3;
  empty.cols = 3;
  empty.indptr.assign(4, 0);
  ImplicitAls als({});
  EXPECT_EQ(als.Fit(empty, empty).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Train(3, 3, {}, {}, TrainConfig{}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ImplicitAls, RecoversThePlantedModel) {
  // The synthetic generator's planted preferences are learnable: the model's
  // top-20 for a user overlaps the true top-20 far above chance.
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("recstack-recover-" + std::to_string(::getpid()))).string();
  data::SyntheticParams sp{.users = 2000, .items = 1000, .interactions = 50000, .rank = 16, .seed = 7};
  ASSERT_TRUE(data::GenerateSynthetic(sp, dir).ok());
  auto ds = LoadDataset(dir + "/interactions.csv", {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  TrainConfig cfg;
  cfg.als = {.factors = 32, .iterations = 10, .regularization = 5.0f, .alpha = 1.0f, .threads = 2};
  cfg.evaluate_each_iteration = false;
  cfg.compute_loss = false;
  auto res = Train(ds->users.size(), ds->items.size(), ds->rows, {}, cfg);
  ASSERT_TRUE(res.ok()) << res.status();
  auto truth = data::GroundTruth::Load(dir);
  ASSERT_TRUE(truth.ok()) << truth.status();
  const int k = 20, users = 200;
  double overlap = 0;
  const auto& U = res->model.user_factors;
  const auto& V = res->model.item_factors;
  std::vector<float> scores(V.rows());
  for (int u = 0; u < users; ++u) {
    const std::string uid = "u" + std::to_string(u);
    auto idx = ds->users.Find(uid);
    ASSERT_TRUE(idx.has_value());
    math::RowDots(V.data(), V.rows(), V.cols(), U.row(*idx), scores.data());
    auto top = math::TopK(scores.data(), V.rows(), k);
    auto want = truth->TrueTopK(uid, k);
    ASSERT_TRUE(want.ok());
    std::set<std::string> w(want->begin(), want->end());
    for (const auto& t : top) overlap += w.count(ds->items.Name(t.id));
  }
  overlap /= users * k;
  const double chance = static_cast<double>(k) / 1000;
  EXPECT_GT(overlap, 10 * chance) << "overlap " << overlap << " vs chance " << chance;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace recstack::training
