#include "common/mf/als.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "common/data/synthetic.h"
#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "common/math/topk.h"
#include "common/mf/dataset.h"
#include "common/mf/trainer.h"

namespace recstack::mf {
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
  ImplicitAls exact({.factors = 8,
                     .iterations = 1,
                     .regularization = 0.1f,
                     .alpha = 2.0f,
                     .solver = Solver::kCholesky,
                     .threads = 1});
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
    ImplicitAls::SolveUser(y, gram.data(), m.by_user.indices.data() + s,
                           m.by_user.values.data() + s, n, pe, x_exact.data());
    AlsParams pc = p;
    pc.cg_steps = 30;
    ImplicitAls::SolveUser(y, gram.data(), m.by_user.indices.data() + s,
                           m.by_user.values.data() + s, n, pc, x_cg.data());
    for (int a = 0; a < 8; ++a) EXPECT_NEAR(x_cg[a], x_exact[a], 1e-3) << "user " << u;
  }
}

TEST(ImplicitAls, WarmStartedCgTracksExactAls) {
  auto m = RandomImplicit(80, 50, 0.15, 2);
  AlsParams base{
      .factors = 6, .iterations = 10, .regularization = 0.5f, .alpha = 1.0f, .threads = 2};
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
  ASSERT_TRUE(als.Fit(m.by_user, m.by_item,
                      [&](int) {
                        losses.push_back(als.Loss(m.by_user));
                        return true;
                      })
                  .ok());
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
  for (const Row& row : rows)
    max_err = std::max<double>(max_err, std::abs(als.Predict(row.user, row.item) - row.value));
  EXPECT_LT(max_err, 0.02);
}

TEST(ExplicitAls, UnknownUserOrItemFallsBackToMeanAndBias) {
  // A complete 3 x 4 rating matrix and a model that can only use biases
  // (factor regularization 1e6 keeps the factors at ~1e-6; the biases are
  // not regularized). Then ALS is alternating least squares of
  // r_ui ~ mu + b_u + b_i, whose fixed point on a complete matrix is the
  // two-way additive fit, reached in one sweep from b = 0:
  //   users: b_u = mean_i(r_ui - mu) = rowmean_u - mu;
  //   items: b_i = mean_u(r_ui - mu - b_u) = colmean_i - mu, since the b_u
  //          average 0 over the users of a complete matrix (and the b_i over
  //          the items, so the next user step changes nothing).
  // So the fallbacks must be: nobody known -> mu, the global mean; only
  // item i known -> mu + b_i = colmean_i; only user u known -> rowmean_u;
  // all computed here from the ratings, not read from the model.
  const std::vector<std::vector<float>> r = {{5, 4, 3, 1}, {4, 3, 1, 1}, {5, 5, 3, 2}};
  const int users = 3, items = 4;
  std::vector<Row> rows;
  double total = 0;
  std::vector<double> row_mean(users, 0), col_mean(items, 0);
  for (int u = 0; u < users; ++u) {
    for (int i = 0; i < items; ++i) {
      rows.push_back({u, i, r[u][i]});
      total += r[u][i];
      row_mean[u] += r[u][i] / items;
      col_mean[i] += r[u][i] / users;
    }
  }
  const double mu = total / (users * items);  // 37 / 12
  auto m = BuildMatrix(users, items, rows, false);
  ExplicitAls als({.factors = 2,
                   .iterations = 3,
                   .regularization = 1e6f,
                   .threads = 1,
                   .bias_regularization = 0.0f});
  ASSERT_TRUE(als.Fit(m.by_user, m.by_item).ok());

  EXPECT_NEAR(als.Predict(-1, -1), mu, 1e-5);
  for (int i = 0; i < items; ++i) {
    // Each item's mean differs from mu: the item bias is really added.
    ASSERT_GT(std::abs(col_mean[i] - mu), 0.2) << i;
    EXPECT_NEAR(als.Predict(-1, i), col_mean[i], 1e-3) << "item " << i;
  }
  for (int u = 0; u < users; ++u) {
    ASSERT_GT(std::abs(row_mean[u] - mu), 0.1) << u;
    EXPECT_NEAR(als.Predict(u, -1), row_mean[u], 1e-3) << "user " << u;
  }
}

TEST(AlsParams, BadValuesAreRejectedClearly) {
  auto m = RandomImplicit(5, 5, 0.5, 4);
  for (auto [p, word] :
       std::vector<std::pair<AlsParams, std::string>>{{{.factors = 0}, "factors"},
                                                      {{.regularization = -1}, "regularization"},
                                                      {{.alpha = -2}, "alpha"},
                                                      {{.cg_steps = 0}, "cg-steps"},
                                                      {{.threads = 0}, "threads"}}) {
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

class PlantedModel : public ::testing::TestWithParam<Solver> {};

TEST_P(PlantedModel, IsRecovered) {
  // The synthetic generator's planted preferences are learnable: the model's
  // top-20 for a user overlaps the true top-20 far above chance.
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("recstack-recover-" + std::to_string(::getpid()) + "-" +
                            std::to_string(static_cast<int>(GetParam()))))
                              .string();
  data::SyntheticParams sp{
      .users = 2000, .items = 1000, .interactions = 50000, .rank = 16, .seed = 7};
  ASSERT_TRUE(data::GenerateSynthetic(sp, dir).ok());
  auto ds = LoadDataset(dir + "/interactions.csv", {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  TrainConfig cfg;
  cfg.als = {.factors = 32,
             .iterations = 10,
             .regularization = 5.0f,
             .alpha = 1.0f,
             .solver = GetParam(),
             .threads = 2};
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

INSTANTIATE_TEST_SUITE_P(EverySolver, PlantedModel,
                         ::testing::Values(Solver::kConjugateGradient, Solver::kSubspace,
                                           Solver::kCholesky));

// The Gram matrix plus lambda I of y, d x d.
std::vector<float> GramOf(const math::Matrix& y, float reg) {
  const int d = static_cast<int>(y.cols());
  std::vector<float> gram(d * d, 0.0f);
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b) {
      double s = 0;
      for (int64_t i = 0; i < y.rows(); ++i) s += static_cast<double>(y.at(i, a)) * y.at(i, b);
      gram[a * d + b] = static_cast<float>(s) + (a == b ? reg : 0.0f);
    }
  return gram;
}

TEST(ImplicitAls, SubspaceSolverMatchesExactSolve) {
  // iALS++ with one block of all d dimensions is the exact solve; with
  // smaller blocks, repeated passes (block coordinate descent on a convex
  // quadratic) converge to it.
  auto m = RandomImplicit(50, 40, 0.25, 11);
  math::Matrix y(40, 12);
  math::Rng rng(12);
  for (size_t i = 0; i < y.size(); ++i) y.data()[i] = static_cast<float>(rng.Normal()) * 0.3f;
  const std::vector<float> gram = GramOf(y, 0.2f);
  for (int u = 0; u < 50; ++u) {
    const int64_t s = m.by_user.indptr[u], n = m.by_user.indptr[u + 1] - s;
    const int32_t* items = m.by_user.indices.data() + s;
    const float* values = m.by_user.values.data() + s;
    AlsParams pe{.factors = 12, .regularization = 0.2f, .alpha = 2.0f, .solver = Solver::kCholesky};
    std::vector<float> x_exact(12, 0.0f);
    ImplicitAls::SolveUser(y, gram.data(), items, values, n, pe, x_exact.data());
    AlsParams full = pe;
    full.solver = Solver::kSubspace;
    full.block_size = 12;
    std::vector<float> x_full(12, 0.0f);
    ImplicitAls::SolveUser(y, gram.data(), items, values, n, full, x_full.data());
    AlsParams blocks = full;
    blocks.block_size = 5;  // 5 + 5 + 2: a ragged last block
    std::vector<float> x_bcd(12, 0.0f);
    for (int pass = 0; pass < 200; ++pass) {
      ImplicitAls::SolveUser(y, gram.data(), items, values, n, blocks, x_bcd.data());
    }
    for (int a = 0; a < 12; ++a) {
      EXPECT_NEAR(x_full[a], x_exact[a], 1e-4) << "user " << u;
      EXPECT_NEAR(x_bcd[a], x_exact[a], 1e-3) << "user " << u;
    }
  }
}

TEST(ImplicitAls, EverySimdLevelSolvesRowsAlike) {
  // The AVX2 and AVX-512 row kernels agree with the baseline's, for the
  // register-blocked sizes (32, 64) and a generic one (20).
  for (int d : {20, 32, 64}) {
    auto m = RandomImplicit(30, 300, 0.3, 20 + d);
    math::Matrix y(300, d);
    math::Rng rng(d);
    for (size_t i = 0; i < y.size(); ++i) y.data()[i] = static_cast<float>(rng.Normal()) * 0.2f;
    const std::vector<float> gram = GramOf(y, 0.5f);
    for (Solver solver : {Solver::kConjugateGradient, Solver::kSubspace}) {
      AlsParams p{
          .factors = d, .regularization = 0.5f, .alpha = 1.0f, .cg_steps = 4, .solver = solver};
      for (int u = 0; u < 30; ++u) {
        const int64_t s = m.by_user.indptr[u], n = m.by_user.indptr[u + 1] - s;
        std::vector<float> x0(d), ref(d);
        for (auto& v : x0) v = static_cast<float>(rng.Normal()) * 0.1f;
        ref = x0;
        ImplicitAls::SolveUserAt(math::SimdLevel::kDefault, y, gram.data(),
                                 m.by_user.indices.data() + s, m.by_user.values.data() + s, n, p,
                                 ref.data());
        for (int l = 1; l <= static_cast<int>(math::DetectSimdLevel()); ++l) {
          std::vector<float> x = x0;
          ImplicitAls::SolveUserAt(static_cast<math::SimdLevel>(l), y, gram.data(),
                                   m.by_user.indices.data() + s, m.by_user.values.data() + s, n, p,
                                   x.data());
          for (int a = 0; a < d; ++a) {
            EXPECT_NEAR(x[a], ref[a], 1e-4 * (1 + std::abs(ref[a])))
                << "d " << d << " level " << l << " user " << u;
          }
        }
      }
    }
  }
}

// One iALS++ pass done densely in double: A = G + Y_u^T (C_u - I) Y_u and
// b = Y_u^T C_u 1 built in full, then for each block S in turn
// x_S += A_SS^-1 (b - A x)_S (the oracle of the block kernels).
void ReferenceSubspacePass(const math::Matrix& y, const std::vector<float>& gram,
                           const int32_t* items, const float* values, int64_t n, float alpha,
                           int block, float* x) {
  const int d = static_cast<int>(y.cols());
  std::vector<double> a(gram.begin(), gram.end()), b(d, 0.0);
  for (int64_t j = 0; j < n; ++j) {
    const float* yj = y.row(items[j]);
    const double c = 1.0 + alpha * values[j];
    for (int p = 0; p < d; ++p) {
      b[p] += c * yj[p];
      for (int q = 0; q < d; ++q) a[p * d + q] += (c - 1.0) * yj[p] * yj[q];
    }
  }
  for (int k0 = 0; k0 < d; k0 += block) {
    std::vector<float> ass(block * block), r(block);
    for (int p = 0; p < block; ++p) {
      double rp = b[k0 + p];
      for (int q = 0; q < d; ++q) rp -= a[(k0 + p) * d + q] * x[q];
      r[p] = static_cast<float>(rp);
      for (int q = 0; q < block; ++q) ass[p * block + q] = a[(k0 + p) * d + k0 + q];
    }
    ASSERT_TRUE(CholeskySolve(ass.data(), r.data(), block));
    for (int p = 0; p < block; ++p) x[k0 + p] += r[p];
  }
}

TEST(ImplicitAls, EveryBlockKernelMatchesTheDenseBlockPass) {
  // The compiled block sizes (8, 16, 32 with d = 32, 64, 128) on every SIMD
  // level agree with the dense pass from the same start, and B = d is the
  // exact solve. Rows of 20 to 300 nonzeros cover the 8-at-a-time loops and
  // their tails.
  for (int d : {32, 64, 128}) {
    auto m = RandomImplicit(12, 600, 0.25, 40 + d);
    math::Matrix y(600, d);
    math::Rng rng(d + 1);
    for (size_t i = 0; i < y.size(); ++i) y.data()[i] = static_cast<float>(rng.Normal()) * 0.1f;
    const std::vector<float> gram = GramOf(y, 0.5f);
    for (int block : {8, 16, 32}) {
      if (block > d) continue;
      AlsParams p{.factors = d, .regularization = 0.5f, .alpha = 1.0f, .solver = Solver::kSubspace};
      p.block_size = block;
      for (int u = 0; u < 12; ++u) {
        const int64_t s = m.by_user.indptr[u], n = m.by_user.indptr[u + 1] - s;
        const int32_t* items = m.by_user.indices.data() + s;
        const float* values = m.by_user.values.data() + s;
        std::vector<float> x0(d), ref(d);
        for (auto& v : x0) v = static_cast<float>(rng.Normal()) * 0.1f;
        ref = x0;
        ReferenceSubspacePass(y, gram, items, values, n, p.alpha, block, ref.data());
        for (int l = 0; l <= static_cast<int>(math::DetectSimdLevel()); ++l) {
          std::vector<float> x = x0;
          ImplicitAls::SolveUserAt(static_cast<math::SimdLevel>(l), y, gram.data(), items, values,
                                   n, p, x.data());
          for (int a = 0; a < d; ++a) {
            ASSERT_NEAR(x[a], ref[a], 2e-4 * (1 + std::abs(ref[a])))
                << "d " << d << " block " << block << " level " << l << " user " << u;
          }
        }
      }
      if (block != d) continue;
      AlsParams pe = p;
      pe.solver = Solver::kCholesky;
      for (int u = 0; u < 12; ++u) {
        const int64_t s = m.by_user.indptr[u], n = m.by_user.indptr[u + 1] - s;
        std::vector<float> x(d, 0.0f), exact(d, 0.0f);
        ImplicitAls::SolveUser(y, gram.data(), m.by_user.indices.data() + s,
                               m.by_user.values.data() + s, n, pe, exact.data());
        ImplicitAls::SolveUser(y, gram.data(), m.by_user.indices.data() + s,
                               m.by_user.values.data() + s, n, p, x.data());
        for (int a = 0; a < d; ++a) EXPECT_NEAR(x[a], exact[a], 2e-4 * (1 + std::abs(exact[a])));
      }
    }
  }
}

TEST(ImplicitAls, SameSeedSameFactorsForOneAndTwoThreads) {
  auto m = RandomImplicit(300, 200, 0.05, 9);
  for (Solver solver : {Solver::kConjugateGradient, Solver::kSubspace, Solver::kCholesky}) {
    AlsParams p{
        .factors = 16, .iterations = 3, .regularization = 0.1f, .solver = solver, .threads = 1};
    ImplicitAls one(p);
    p.threads = 2;
    ImplicitAls two(p);
    ASSERT_TRUE(one.Fit(m.by_user, m.by_item).ok());
    ASSERT_TRUE(two.Fit(m.by_user, m.by_item).ok());
    for (size_t i = 0; i < one.user_factors().size(); ++i) {
      ASSERT_EQ(one.user_factors().data()[i], two.user_factors().data()[i])
          << "solver " << static_cast<int>(solver);
    }
    for (size_t i = 0; i < one.item_factors().size(); ++i) {
      ASSERT_EQ(one.item_factors().data()[i], two.item_factors().data()[i]);
    }
  }
}

TEST(ImplicitAls, SubspaceTracksExactAls) {
  auto m = RandomImplicit(80, 50, 0.15, 2);
  AlsParams base{.factors = 8,
                 .iterations = 10,
                 .regularization = 0.5f,
                 .alpha = 1.0f,
                 .solver = Solver::kSubspace,
                 .threads = 2};
  base.block_size = 4;
  AlsParams exact_p = base;
  exact_p.solver = Solver::kCholesky;
  ImplicitAls bcd(base), exact(exact_p);
  ASSERT_TRUE(bcd.Fit(m.by_user, m.by_item).ok());
  ASSERT_TRUE(exact.Fit(m.by_user, m.by_item).ok());
  EXPECT_NEAR(bcd.Loss(m.by_user), exact.Loss(m.by_user), 0.05 * exact.Loss(m.by_user));
}

TEST(AlsParams, BlockSizeIsChecked) {
  auto m = RandomImplicit(5, 5, 0.5, 4);
  for (int b : {0, 9}) {
    AlsParams p{.factors = 8, .solver = Solver::kSubspace};
    p.block_size = b;
    ImplicitAls als(p);
    auto st = als.Fit(m.by_user, m.by_item);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(st.message()).find("block-size"), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace recstack::mf
