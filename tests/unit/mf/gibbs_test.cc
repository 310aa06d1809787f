// The Gibbs sampler of explicit ALS (Bayesian PMF) and its random draws.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "common/mf/als.h"
#include "common/mf/dataset.h"
#include "common/mf/sampling.h"
#include "common/mf/trainer.h"
#include "tests/unit/mf/planted_ratings.h"

namespace recstack::mf {
namespace {

using testing::kNoise;
using testing::MakePlanted;
using testing::Planted;

AlsParams GibbsParams() {
  return {.factors = 5, .iterations = 40, .threads = 2, .explicit_solver = ExplicitSolver::kGibbs};
}

TEST(GibbsExplicit, ReachesTheNoiseLevelOnAPlantedLowRankMatrix) {
  Planted p = MakePlanted(11);
  auto m = BuildMatrix(p.users, p.items, p.train, false);
  GibbsSampler gibbs(GibbsParams());
  std::vector<std::pair<int32_t, int32_t>> pairs;
  for (const Row& r : p.test) pairs.emplace_back(r.user, r.item);
  gibbs.TrackPairs(pairs);
  ASSERT_TRUE(gibbs.Fit(m.by_user, m.by_item).ok());
  EXPECT_EQ(gibbs.samples(), 30);  // 40 sweeps, burn-in 40 / 4
  double se = 0, se_mean_factors = 0, se_truth = 0;
  for (size_t j = 0; j < p.test.size(); ++j) {
    const Row& r = p.test[j];
    se += std::pow(r.value - gibbs.TrackedPrediction(j), 2);
    se_mean_factors += std::pow(r.value - gibbs.Predict(r.user, r.item), 2);
    se_truth += std::pow(p.truth[j] - gibbs.TrackedPrediction(j), 2);
  }
  const double n = static_cast<double>(p.test.size());
  const double rmse = std::sqrt(se / n), rmse_mean_factors = std::sqrt(se_mean_factors / n);
  // The best any model can do on noisy held-out ratings is the noise (0.3).
  EXPECT_LT(rmse, 1.15 * kNoise) << rmse;
  EXPECT_LT(rmse_mean_factors, 1.15 * kNoise) << rmse_mean_factors;
  // ... and the error against the noiseless values is well below it.
  EXPECT_LT(std::sqrt(se_truth / n), 0.6 * kNoise);
  // Predicting the global mean would be far worse.
  double se_mean = 0;
  for (const Row& r : p.test) se_mean += std::pow(r.value - gibbs.global_mean(), 2);
  EXPECT_GT(std::sqrt(se_mean / n), 2.5 * rmse);
}

TEST(GibbsExplicit, SameSeedSameModelWhateverTheThreadCount) {
  Planted p = MakePlanted(12);
  auto m = BuildMatrix(p.users, p.items, p.train, false);
  auto fit = [&](uint64_t seed, int threads) {
    AlsParams params = GibbsParams();
    params.iterations = 8;
    params.seed = seed;
    params.threads = threads;
    GibbsSampler als(params);
    EXPECT_TRUE(als.Fit(m.by_user, m.by_item).ok());
    std::vector<float> out(als.user_factors().data(),
                           als.user_factors().data() + als.user_factors().size());
    out.insert(out.end(), als.item_bias().begin(), als.item_bias().end());
    return out;
  };
  const std::vector<float> a = fit(42, 2);
  EXPECT_EQ(a, fit(42, 2));
  // Each row's draws are seeded by (seed, sweep, side, row), not by thread.
  EXPECT_EQ(a, fit(42, 1));
  EXPECT_NE(a, fit(43, 2));
}

TEST(GibbsExplicit, TrainReportsBothFigures) {
  Planted p = MakePlanted(13);
  TrainConfig cfg;
  cfg.algorithm = Algorithm::kExplicitAls;
  cfg.als = GibbsParams();
  cfg.als.iterations = 12;
  std::vector<Row> test = p.test;
  test.push_back({-1, 3, 4.0f});  // unknown user: the mean plus the item bias
  auto res = Train(p.users, p.items, p.train, test, cfg);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->metrics.at("fallback_rows"), 1);
  EXPECT_EQ(res->metrics.at("samples"), 9);
  EXPECT_LT(res->metrics.at("rmse"), 0.6);
  EXPECT_LT(res->metrics.at("rmse_mean_factors"), 0.6);
  EXPECT_EQ(res->history.size(), 12u);
  // The published model is the posterior mean: its biases are finite and
  // the factors have the asked-for shape.
  EXPECT_EQ(res->model.user_factors.cols(), 5);
  EXPECT_EQ(res->model.item_bias.size(), static_cast<size_t>(p.items));
  // ALS reports no sampler figures.
  cfg.als.explicit_solver = ExplicitSolver::kAls;
  res = Train(p.users, p.items, p.train, p.test, cfg);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->metrics.count("rmse_mean_factors"), 0u);
}

TEST(GibbsExplicit, BadParametersAreRejectedClearly) {
  Planted p = MakePlanted(14);
  auto m = BuildMatrix(p.users, p.items, p.train, false);
  auto with = [](auto edit) {
    AlsParams params = GibbsParams();
    edit(params);
    return params;
  };
  for (auto [params, word] : std::vector<std::pair<AlsParams, std::string>>{
           {with([](AlsParams& q) { q.burn_in = 40; }), "burn-in"},
           {with([](AlsParams& q) { q.burn_in = -2; }), "burn-in"},
           {with([](AlsParams& q) { q.noise_precision = -1; }), "noise-precision"},
           {with([](AlsParams& q) { q.noise_precision = NAN; }), "noise-precision"},
           {with([](AlsParams& q) { q.warm_start = -1; }), "warm-start"},
           {with([](AlsParams& q) { q.factors = 0; }), "factors"}}) {
    GibbsSampler als(params);
    auto st = als.Fit(m.by_user, m.by_item);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << word;
    EXPECT_NE(std::string(st.message()).find(word), std::string::npos) << st.message();
  }
}

TEST(Sampling, GammaHasItsMeanAndVariance) {
  math::Rng rng(3);
  for (double shape : {0.5, 1.0, 4.0, 100.0}) {
    const int n = 40000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double g = SampleGamma(rng, shape);
      s += g;
      s2 += g * g;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    EXPECT_NEAR(mean, shape, 0.03 * shape + 0.01) << shape;
    EXPECT_NEAR(var, shape, 0.08 * shape + 0.02) << shape;
  }
}

TEST(Sampling, CholeskyMatchesTheOracleSolve) {
  math::Rng rng(4);
  const int n = 9;
  std::vector<double> b(n * n);
  for (auto& v : b) v = rng.Normal();
  std::vector<double> a(n * n, 0.0);  // B B^T + I
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      for (int p = 0; p < n; ++p) a[i * n + j] += b[i * n + p] * b[j * n + p];
      if (i == j) a[i * n + j] += 1.0;
    }
  std::vector<double> rhs(n);
  for (auto& v : rhs) v = rng.Normal();
  std::vector<float> af(a.begin(), a.end()), xf(rhs.begin(), rhs.end());
  ASSERT_TRUE(CholeskySolve(af.data(), xf.data(), n));
  std::vector<double> l = a, x = rhs;
  ASSERT_TRUE(CholeskyLower(l.data(), n));
  SolveLower(l.data(), n, x.data());
  SolveLowerTransposed(l.data(), n, x.data());
  for (int i = 0; i < n; ++i) EXPECT_NEAR(x[i], xf[i], 1e-4);
  std::vector<double> not_spd(n * n, 0.0);
  EXPECT_FALSE(CholeskyLower(not_spd.data(), n));
}

TEST(Sampling, BatchedCholeskyMatchesTheRowCholesky) {
  // Every SIMD level, sizes around the four-column blocks (1, 3, 4, 9, 65),
  // one matrix of the batch not positive definite: only its lane fails.
  math::Rng rng(8);
  for (int n : {1, 3, 4, 9, 65}) {
    std::vector<std::vector<double>> mats(kCholeskyBatch);
    for (int m = 0; m < kCholeskyBatch; ++m) {
      std::vector<double> b(n * n);
      for (auto& v : b) v = rng.Normal();
      mats[m].assign(n * n, 0.0);
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
          for (int p = 0; p < n; ++p) mats[m][i * n + j] += b[i * n + p] * b[j * n + p];
          if (i == j) mats[m][i * n + j] += 1.0;
        }
    }
    for (int i = 0; i < n; ++i) mats[2][i * n + i] = -1.0;  // lane 2: not SPD
    for (int l = 0; l <= static_cast<int>(math::DetectSimdLevel()); ++l) {
      std::vector<double> packed(n * (n + 1) / 2 * kCholeskyBatch);
      for (int m = 0; m < kCholeskyBatch; ++m) {
        int e = 0;
        for (int i = 0; i < n; ++i)
          for (int j = 0; j <= i; ++j, ++e) packed[e * kCholeskyBatch + m] = mats[m][i * n + j];
      }
      bool ok[kCholeskyBatch];
      CholeskyLowerBatchAt(static_cast<math::SimdLevel>(l), packed.data(), n, ok);
      for (int m = 0; m < kCholeskyBatch; ++m) {
        std::vector<double> ref = mats[m];
        const bool ref_ok = CholeskyLower(ref.data(), n);
        ASSERT_EQ(ok[m], ref_ok) << "n " << n << " level " << l << " matrix " << m;
        if (!ref_ok) continue;
        std::vector<double> x(n), x_ref(n);
        for (int i = 0; i < n; ++i) x[i] = x_ref[i] = rng.Normal();
        SolveLowerBatch(packed.data(), n, m, x.data());
        SolveLowerTransposedBatch(packed.data(), n, m, x.data());
        SolveLower(ref.data(), n, x_ref.data());
        SolveLowerTransposed(ref.data(), n, x_ref.data());
        for (int i = 0; i < n; ++i) EXPECT_NEAR(x[i], x_ref[i], 1e-9 * (1 + std::abs(x_ref[i])));
        int e = 0;
        for (int i = 0; i < n; ++i)
          for (int j = 0; j <= i; ++j, ++e) {
            EXPECT_NEAR(packed[e * kCholeskyBatch + m], ref[i * n + j],
                        1e-9 * (1 + std::abs(ref[i * n + j])))
                << "n " << n << " level " << l << " matrix " << m << " (" << i << ", " << j << ")";
          }
      }
    }
  }
}

TEST(Sampling, NormalWishartConcentratesOnTheDataWithManyRows) {
  // Rows drawn from N(m, diag(1/4, 1)): the posterior's draw is close to
  // (m, diag(4, 1)) when there are many of them.
  math::Rng data_rng(5), rng(6);
  const int k = 2, n = 20000;
  std::vector<float> theta(n * k);
  for (int r = 0; r < n; ++r) {
    theta[r * k] = static_cast<float>(1.0 + 0.5 * data_rng.Normal());
    theta[r * k + 1] = static_cast<float>(-2.0 + data_rng.Normal());
  }
  auto prior = SampleNormalWishart(theta.data(), n, k, 2.0, rng);
  ASSERT_TRUE(prior.ok());
  EXPECT_NEAR(prior->mean[0], 1.0, 0.03);
  EXPECT_NEAR(prior->mean[1], -2.0, 0.05);
  EXPECT_NEAR(prior->precision[0], 4.0, 0.2);
  EXPECT_NEAR(prior->precision[3], 1.0, 0.05);
  EXPECT_NEAR(prior->precision[1], 0.0, 0.05);
}

}  // namespace
}  // namespace recstack::mf
