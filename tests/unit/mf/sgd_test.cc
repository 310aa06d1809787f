// Biased MF by mini-batch SGD (sgd-explicit), and the trainer's
// training-set metrics (--train-metrics).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "common/mf/dataset.h"
#include "common/mf/sgd.h"
#include "common/mf/trainer.h"
#include "tests/unit/mf/planted_ratings.h"

namespace recstack::mf {
namespace {

using testing::kNoise;
using testing::MakePlanted;
using testing::Planted;

TrainConfig SgdConfig(Optimizer o, int epochs) {
  TrainConfig c;
  c.algorithm = Algorithm::kSgdExplicit;
  c.als.factors = 5;
  c.als.iterations = epochs;
  c.als.regularization = 0.05f;
  c.sgd.optimizer = o;
  c.sgd.decay = 1.0f;       // a constant step on this small problem
  c.sgd.init_scale = 0.1f;  // every row has ~40 ratings to pull it in
  return c;
}

TEST(SgdExplicit, MiniBatchGradientMatchesFiniteDifferences) {
  const int users = 4, items = 3, d = 3;
  math::Rng rng(5);
  math::Matrix tu(users, d + 1), ti(items, d + 1);
  for (math::Matrix* m : {&tu, &ti}) {
    for (size_t j = 0; j < m->size(); ++j) m->data()[j] = static_cast<float>(rng.Normal() * 0.5);
  }
  // Repeated users and items: their gradients add up within the batch.
  const std::vector<Rating> batch = {{0, 0, 4.0f}, {0, 2, 1.0f}, {1, 0, 3.5f},
                                     {3, 1, 5.0f}, {3, 2, 2.0f}, {1, 2, 2.5f}};
  const float mu = 3.2f, lambda = 0.3f, lambda_bias = 0.1f;
  math::Matrix gu, gi;
  MiniBatchLoss(tu, ti, mu, batch.data(), batch.size(), lambda, lambda_bias, &gu, &gi);
  // The loss is quadratic in any one coordinate, so central differences are
  // exact up to rounding.
  const float h = 1e-2f;
  for (bool user_side : {true, false}) {
    math::Matrix& theta = user_side ? tu : ti;
    const math::Matrix& grad = user_side ? gu : gi;
    for (size_t j = 0; j < theta.size(); ++j) {
      const float saved = theta.data()[j];
      theta.data()[j] = saved + h;
      const double up = MiniBatchLoss(tu, ti, mu, batch.data(), batch.size(), lambda, lambda_bias);
      theta.data()[j] = saved - h;
      const double down =
          MiniBatchLoss(tu, ti, mu, batch.data(), batch.size(), lambda, lambda_bias);
      theta.data()[j] = saved;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(grad.data()[j], numeric, 2e-3 * std::max(1.0, std::abs(numeric)))
          << (user_side ? "user" : "item") << " parameter " << j;
    }
  }
  // User 2 has no rating in the batch: no gradient.
  for (int a = 0; a <= d; ++a) EXPECT_EQ(gu.row(2)[a], 0.0f);
}

// Three ratings with factors starting at 0: only the biases move, by
// gradients computable by hand. mu = 8/3; summed over the one batch,
// g(b_u0) = -(1 - mu) - (2 - mu) = 7/3, g(b_u1) = -(5 - mu) = -7/3,
// g(b_i0) = -(1 - mu) = 5/3, g(b_i1) = -(2 - mu) - (5 - mu) = -5/3.
struct OneBatch {
  std::vector<Row> rows = {{0, 0, 1.0f}, {0, 1, 2.0f}, {1, 1, 5.0f}};
  double gu[2] = {7.0 / 3, -7.0 / 3}, gi[2] = {5.0 / 3, -5.0 / 3};
};

TrainConfig OneBatchConfig(Optimizer o, float eta) {
  TrainConfig c;
  c.algorithm = Algorithm::kSgdExplicit;
  c.als.factors = 2;
  c.als.iterations = 1;
  c.als.regularization = 0.5f;  // acts on the biases too, but they start at 0
  c.sgd.optimizer = o;
  c.sgd.learning_rate = eta;
  c.sgd.batch_size = 3;
  c.sgd.init_scale = 0;
  return c;
}

TEST(SgdExplicit, FirstStepOfEachOptimizerFollowsItsUpdateRule) {
  const OneBatch b;
  const float eta = 0.1f;
  for (Optimizer o :
       {Optimizer::kSgd, Optimizer::kMomentum, Optimizer::kAdagrad, Optimizer::kAdam}) {
    auto res = Train(2, 2, b.rows, {}, OneBatchConfig(o, eta));
    ASSERT_TRUE(res.ok()) << res.status();
    const TrainedModel& m = res->model;
    EXPECT_NEAR(m.global_mean, 8.0 / 3, 1e-6);
    for (int r = 0; r < 2; ++r) {
      // sgd, momentum (v = g on the first step): -eta g. adagrad
      // (G = g^2) and adam (m^ = g, v^ = g^2): -eta sign(g).
      const bool sign = o == Optimizer::kAdagrad || o == Optimizer::kAdam;
      const double want_u = -eta * (sign ? std::copysign(1.0, b.gu[r]) : b.gu[r]);
      const double want_i = -eta * (sign ? std::copysign(1.0, b.gi[r]) : b.gi[r]);
      EXPECT_NEAR(m.user_bias[r], want_u, 1e-5) << OptimizerName(o) << " user " << r;
      EXPECT_NEAR(m.item_bias[r], want_i, 1e-5) << OptimizerName(o) << " item " << r;
      for (int a = 0; a < 2; ++a) {
        EXPECT_EQ(m.user_factors.row(r)[a], 0.0f);
        EXPECT_EQ(m.item_factors.row(r)[a], 0.0f);
      }
    }
  }
}

TEST(SgdExplicit, EveryOptimizerReachesTheNoiseLevelOnAPlantedLowRankMatrix) {
  const Planted p = MakePlanted(11);
  for (Optimizer o :
       {Optimizer::kSgd, Optimizer::kMomentum, Optimizer::kAdagrad, Optimizer::kAdam}) {
    TrainConfig c = SgdConfig(o, 60);
    auto res = Train(p.users, p.items, p.train, p.test, c);
    ASSERT_TRUE(res.ok()) << res.status();
    const double rmse = res->metrics.at("rmse");
    // Against the noiseless values: the estimation error alone.
    const TrainedModel& m = res->model;
    double se_truth = 0;
    for (size_t j = 0; j < p.test.size(); ++j) {
      const Row& r = p.test[j];
      const double pred = m.global_mean + m.user_bias[r.user] + m.item_bias[r.item] +
                          math::Dot(m.user_factors.row(r.user), m.item_factors.row(r.item), 5);
      se_truth += (pred - p.truth[j]) * (pred - p.truth[j]);
    }
    const double rmse_truth = std::sqrt(se_truth / p.test.size());
    // The noise alone gives kNoise; fitting 6 parameters per row on ~40
    // ratings a row adds a little.
    EXPECT_LT(rmse, 1.2 * kNoise) << OptimizerName(o);
    EXPECT_GT(rmse, 0.8 * kNoise) << OptimizerName(o);
    // Estimating 6 parameters per row from ~40 noisy ratings a row costs
    // about kNoise sqrt(2 * 6 / 40) = 0.55 kNoise.
    EXPECT_LT(rmse_truth, 0.7 * kNoise) << OptimizerName(o);
    // Well below predicting the mean plus biases only.
    ASSERT_EQ(res->history.size(), 60u);
    EXPECT_LT(res->history.back().metrics.at("rmse"), res->history.front().metrics.at("rmse"));
  }
}

TEST(SgdExplicit, SameSeedGivesBitIdenticalFactors) {
  const Planted p = MakePlanted(3);
  TrainConfig c = SgdConfig(Optimizer::kAdam, 5);
  c.sgd.batch_size = 16;
  auto a = Train(p.users, p.items, p.train, p.test, c);
  auto b = Train(p.users, p.items, p.train, p.test, c);
  ASSERT_TRUE(a.ok() && b.ok());
  const TrainedModel &ma = a->model, &mb = b->model;
  ASSERT_EQ(ma.user_factors.size(), mb.user_factors.size());
  EXPECT_EQ(0, std::memcmp(ma.user_factors.data(), mb.user_factors.data(),
                           ma.user_factors.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(ma.item_factors.data(), mb.item_factors.data(),
                           ma.item_factors.size() * sizeof(float)));
  EXPECT_EQ(ma.user_bias, mb.user_bias);
  EXPECT_EQ(ma.item_bias, mb.item_bias);
  for (size_t e = 0; e < a->history.size(); ++e)
    EXPECT_EQ(a->history[e].metrics.at("rmse"), b->history[e].metrics.at("rmse"));
  // Another seed shuffles (and initialises) differently.
  c.als.seed = 43;
  auto other = Train(p.users, p.items, p.train, p.test, c);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(0, std::memcmp(ma.item_factors.data(), other->model.item_factors.data(),
                           ma.item_factors.size() * sizeof(float)));
}

TEST(SgdExplicit, BadParametersAreInvalidArgument) {
  EXPECT_EQ(ParseOptimizerName("rmsprop").status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* name : {"sgd", "momentum", "adagrad", "adam"}) {
    auto o = ParseOptimizerName(name);
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(OptimizerName(*o), name);
    EXPECT_GT(DefaultLearningRate(*o), 0.0f);
  }
  auto algo = ParseAlgorithmName("sgd-explicit");
  ASSERT_TRUE(algo.ok());
  EXPECT_EQ(AlgorithmName(*algo), "sgd-explicit");
  EXPECT_TRUE(IsExplicit(*algo));

  auto bad = [](auto mutate) {
    TrainConfig c = SgdConfig(Optimizer::kAdam, 2);
    mutate(c);
    return c.Validate();
  };
  EXPECT_TRUE(bad([](TrainConfig&) {}).ok());
  for (absl::Status st : {bad([](TrainConfig& c) { c.sgd.learning_rate = 0; }),
                          bad([](TrainConfig& c) { c.sgd.learning_rate = NAN; }),
                          bad([](TrainConfig& c) { c.sgd.batch_size = 0; }),
                          bad([](TrainConfig& c) { c.sgd.momentum = 1; }),
                          bad([](TrainConfig& c) { c.sgd.beta2 = 1; }),
                          bad([](TrainConfig& c) { c.sgd.init_scale = -1; }),
                          bad([](TrainConfig& c) { c.als.factors = 0; })}) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  }
  // A learning rate far too large for plain SGD diverges: reported, naming
  // the flag to change.
  const Planted p = MakePlanted(2);
  TrainConfig c = SgdConfig(Optimizer::kSgd, 5);
  c.sgd.learning_rate = 50;
  auto res = Train(p.users, p.items, p.train, p.test, c);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(res.status().message().find("--learning-rate"), std::string::npos) << res.status();
}

TEST(TrainMetrics, ExplicitTrainRmseMatchesAHandComputation) {
  // One sgd step of eta 0.1 from zero factors (see OneBatch): b_u = (-7/30,
  // 7/30), b_i = (-1/6, 1/6); predictions mu + b_u + b_i.
  const OneBatch b;
  TrainConfig c = OneBatchConfig(Optimizer::kSgd, 0.1f);
  c.train_metrics = true;
  auto res = Train(2, 2, b.rows, {}, c);
  ASSERT_TRUE(res.ok()) << res.status();
  const double mu = 8.0 / 3;
  const double e1 = 1 - (mu - 7.0 / 30 - 1.0 / 6);  // user 0, item 0
  const double e2 = 2 - (mu - 7.0 / 30 + 1.0 / 6);  // user 0, item 1
  const double e3 = 5 - (mu + 7.0 / 30 + 1.0 / 6);  // user 1, item 1
  ASSERT_EQ(res->history.size(), 1u);
  const auto& m = res->history[0].metrics;
  EXPECT_NEAR(m.at("train_rmse"), std::sqrt((e1 * e1 + e2 * e2 + e3 * e3) / 3), 1e-5);
  EXPECT_NEAR(m.at("train_mae"), (std::abs(e1) + std::abs(e2) + std::abs(e3)) / 3, 1e-5);
  EXPECT_EQ(m.count("rmse"), 0u);  // no test rows
  // Off by default.
  c.train_metrics = false;
  res = Train(2, 2, b.rows, {}, c);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->history[0].metrics.count("train_rmse"), 0u);
}

TEST(TrainMetrics, RankingOnTheTrainingItemsExcludesNothing) {
  // 3 users over 4 items, k = 4 = every item: whatever the model, each
  // user's training items are all in its top 4, so recall@4 = 1 and
  // precision@4 = |items| / 4, averaged (2, 1 and 3 items: 0.5). Were the
  // training items excluded, both would be 0.
  const std::vector<Row> rows = {{0, 0, 1}, {0, 2, 1}, {1, 3, 1}, {2, 0, 1}, {2, 1, 1}, {2, 3, 1}};
  const std::vector<Row> test = {{0, 1, 1}};
  for (Algorithm a : {Algorithm::kImplicitAls, Algorithm::kEase}) {
    TrainConfig c;
    c.algorithm = a;
    c.als.factors = 2;
    c.als.iterations = 2;
    c.k = 4;
    c.train_metrics = true;
    auto res = Train(3, 4, rows, test, c);
    ASSERT_TRUE(res.ok()) << res.status();
    const auto& m = res->history.back().metrics;
    EXPECT_DOUBLE_EQ(m.at("train_recall@4"), 1.0) << AlgorithmName(a);
    EXPECT_DOUBLE_EQ(m.at("train_precision@4"), 0.5) << AlgorithmName(a);
    EXPECT_GT(m.at("train_ndcg@4"), 0.0);
    EXPECT_LE(m.at("train_ndcg@4"), 1.0);
    EXPECT_EQ(m.count("recall@4"), 1u);  // the test metrics are still there
  }
}

}  // namespace
}  // namespace recstack::mf
