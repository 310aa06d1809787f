#include "common/ml/logistic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "common/ml/metrics.h"
#include "tests/unit/ml/synth.h"

namespace recstack::ml {
namespace {

using testing::MakeLinear;
using testing::Sigmoid;

const std::vector<double> kPlanted = {1.5, -2.0, 0.5, 0.0};
constexpr double kPlantedBias = -0.3;

// The gradient of the unregularized mean log loss at the model's raw
// weights, computed here without the library: zero at the optimum.
double GradientNorm(const LogisticModel& model, const Dataset& data) {
  const std::vector<double> w = model.RawWeights();
  std::vector<double> g(w.size() + 1, 0.0);
  for (size_t i = 0; i < data.rows(); ++i) {
    double m = model.RawBias();
    for (size_t j = 0; j < w.size(); ++j) m += w[j] * data.Row(i)[j];
    const double e = Sigmoid(m) - data.labels[i];
    for (size_t j = 0; j < w.size(); ++j) g[j] += e * data.Row(i)[j];
    g.back() += e;
  }
  double norm = 0;
  for (double v : g) norm += (v / data.rows()) * (v / data.rows());
  return std::sqrt(norm);
}

// The optimum of the unregularized loss on the train set: a long full-batch
// heavy-ball run, checked by its gradient. Computed once for all optimizers.
struct Optimum {
  Dataset train, valid;
  LogisticModel model;
  double valid_logloss = 0;
};

const Optimum& TheOptimum() {
  static const Optimum* optimum = [] {
    auto* o = new Optimum{MakeLinear(4000, kPlanted, kPlantedBias, 11),
                          MakeLinear(2000, kPlanted, kPlantedBias, 12),
                          {},
                          0};
    LogisticParams full;
    full.optimizer = Optimizer::kMomentum;
    full.learning_rate = 1.0;
    full.momentum = 0.9;
    full.batch_size = static_cast<int>(o->train.rows());
    full.epochs = 400;
    full.l2 = 0;
    auto r = TrainLogistic(full, o->train);
    if (!r.ok()) std::abort();
    o->model = r->model;
    auto p = o->model.PredictBatch(o->valid.features);
    o->valid_logloss = LogLoss(o->valid.labels, *p);
    return o;
  }();
  return *optimum;
}

class OptimizerTest : public ::testing::TestWithParam<Optimizer> {};

TEST_P(OptimizerTest, ConvergesToTheFullBatchOptimumAndThePlantedWeights) {
  const Optimum& optimum = TheOptimum();
  const Dataset& train = optimum.train;
  const Dataset& valid = optimum.valid;
  ASSERT_LT(GradientNorm(optimum.model, train), 1e-6);
  const double best_valid = optimum.valid_logloss;

  LogisticParams p;
  p.optimizer = GetParam();
  p.l2 = 0;
  p.batch_size = 64;
  p.epochs = 30;
  p.seed = 5;
  p.learning_rate = GetParam() == Optimizer::kSgd        ? 0.1
                    : GetParam() == Optimizer::kMomentum ? 0.02
                                                         : 0.01;
  auto r = TrainLogistic(p, train, &valid);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->history.size(), 30u);
  const double got_valid = r->history.back().valid_logloss;
  std::printf("%s: valid logloss %.5f after %d epochs, full-batch optimum %.5f\n",
              std::string(OptimizerName(GetParam())).c_str(), got_valid, p.epochs, best_valid);
  EXPECT_NEAR(got_valid, best_valid, 0.003);
  EXPECT_LT(r->history.back().train_logloss, r->history.front().train_logloss);
  const std::vector<double> w = r->model.RawWeights();
  const std::vector<double> w_opt = optimum.model.RawWeights();
  for (size_t j = 0; j < kPlanted.size(); ++j) {
    EXPECT_NEAR(w[j], w_opt[j], 0.08) << "feature " << j;
    EXPECT_NEAR(w[j], kPlanted[j], 0.2) << "feature " << j;
  }
  EXPECT_NEAR(r->model.RawBias(), kPlantedBias, 0.2);
}

INSTANTIATE_TEST_SUITE_P(Logistic, OptimizerTest,
                         ::testing::Values(Optimizer::kSgd, Optimizer::kMomentum, Optimizer::kAdam),
                         [](const auto& info) { return std::string(OptimizerName(info.param)); });

// Badly scaled features: one in the thousands with a large offset, one a
// hundredth wide. Planted on the standardized scale.
Dataset MakeBadlyScaled(size_t n, uint64_t seed) {
  return testing::Make(
      n, 3, seed,
      [](math::Rng& rng, std::vector<float>& x) {
        x[0] = static_cast<float>(1000 + 100 * rng.Normal());
        x[1] = static_cast<float>(0.01 * rng.Normal());
        x[2] = static_cast<float>(rng.Normal());
      },
      [](const std::vector<float>& x) {
        return Sigmoid(1.0 * (x[0] - 1000) / 100 - 1.5 * x[1] / 0.01 + 0.5 * x[2]);
      });
}

class StandardizationTest : public ::testing::TestWithParam<Optimizer> {};

TEST_P(StandardizationTest, ReachesTheUnstandardizedLossInAtMostHalfTheEpochs) {
  const Dataset train = MakeBadlyScaled(4000, 21);
  const Dataset valid = MakeBadlyScaled(2000, 22);
  constexpr int kEpochs = 40;
  LogisticParams p;
  p.optimizer = GetParam();
  p.epochs = kEpochs;
  p.batch_size = 64;
  p.l2 = 0;

  // The unstandardized run at its best learning rate (by final validation
  // loss) from a grid, so the comparison is not against a badly tuned run.
  p.standardize = false;
  std::vector<EpochLoss> raw_curve;
  double raw_best = std::numeric_limits<double>::infinity(), raw_lr = 0;
  for (double lr : {1.0, 0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6}) {
    p.learning_rate = lr;
    auto r = TrainLogistic(p, train, &valid);
    if (!r.ok()) continue;  // diverged
    const double loss = r->history.back().valid_logloss;
    if (loss < raw_best) {
      raw_best = loss;
      raw_lr = lr;
      raw_curve = r->history;
    }
  }
  ASSERT_FALSE(raw_curve.empty());

  p.standardize = true;
  p.learning_rate = GetParam() == Optimizer::kAdam ? 0.01 : 0.1;
  auto std_run = TrainLogistic(p, train, &valid);
  ASSERT_TRUE(std_run.ok()) << std_run.status();
  int reached = -1;
  for (const auto& e : std_run->history) {
    if (e.valid_logloss <= raw_best) {
      reached = e.epoch;
      break;
    }
  }
  std::printf(
      "%s, validation log loss per epoch (unstandardized at its best lr %g | standardized)\n",
      std::string(OptimizerName(GetParam())).c_str(), raw_lr);
  for (int e = 0; e < kEpochs; ++e) {
    std::printf("  epoch %2d  %.5f  %.5f\n", e + 1, raw_curve[e].valid_logloss,
                std_run->history[e].valid_logloss);
  }
  std::printf("standardized reaches %.5f at epoch %d of %d\n", raw_best, reached, kEpochs);
  ASSERT_GE(reached, 1) << "the standardized run never reached the unstandardized loss";
  EXPECT_LE(reached, kEpochs / 2);
}

INSTANTIATE_TEST_SUITE_P(Logistic, StandardizationTest,
                         ::testing::Values(Optimizer::kSgd, Optimizer::kAdam),
                         [](const auto& info) { return std::string(OptimizerName(info.param)); });

// x0 goes missing far more often on clicked rows: missingness is a signal.
Dataset MakeInformativeMissing(size_t n, uint64_t seed) {
  Dataset data = MakeLinear(n, {1.0, -1.0, 0.5}, -0.5, seed);
  math::Rng rng(seed + 1000);
  for (size_t i = 0; i < data.rows(); ++i) {
    const double p_missing = data.labels[i] == 1 ? 0.6 : 0.1;
    if (rng.Uniform() < p_missing) data.features[i * 3] = std::numeric_limits<float>::quiet_NaN();
  }
  return data;
}

TEST(Logistic, ImputationWithIndicatorsBeatsDroppingRowsWhenMissingnessIsInformative) {
  const Dataset train = MakeInformativeMissing(4000, 31);
  const Dataset valid = MakeInformativeMissing(2000, 32);
  LogisticParams p;
  p.epochs = 20;
  p.learning_rate = 0.01;
  auto impute = TrainLogistic(p, train, &valid);
  ASSERT_TRUE(impute.ok()) << impute.status();
  p.missing = MissingPolicy::kDropRows;
  auto drop = TrainLogistic(p, train, &valid);
  ASSERT_TRUE(drop.ok()) << drop.status();

  const double li = impute->history.back().valid_logloss;
  const double ld = drop->history.back().valid_logloss;
  std::printf("valid logloss: impute+indicator %.4f (%zu rows), drop rows %.4f (%zu rows)\n", li,
              impute->rows_used, ld, drop->rows_used);
  EXPECT_LT(li, ld - 0.03);
  EXPECT_EQ(impute->rows_used, train.rows());
  EXPECT_LT(drop->rows_used, train.rows() * 8 / 10);
  // Only x0 had missing values; its indicator learned "missing means click".
  EXPECT_EQ(impute->model.has_indicator(), (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_GT(impute->model.indicator_weights()[0], 1.0);
  EXPECT_EQ(drop->model.has_indicator(), (std::vector<uint8_t>{0, 0, 0}));
}

TEST(Logistic, ContributionsSumToTheMargin) {
  const Dataset train = MakeInformativeMissing(2000, 41);
  auto r = TrainLogistic(LogisticParams{}, train);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(std::isnan(r->history.back().valid_logloss));
  int missing_rows = 0;
  for (size_t i = 0; i < 200; ++i) {
    auto e = r->model.Explain(train.Row(i));
    ASSERT_TRUE(e.ok()) << e.status();
    double sum = e->bias;
    for (double c : e->contributions) sum += c;
    EXPECT_NEAR(sum, e->margin, 1e-9);
    auto p = r->model.Predict(train.Row(i));
    ASSERT_TRUE(p.ok());
    EXPECT_NEAR(*p, Sigmoid(e->margin), 1e-12);
    EXPECT_EQ(*p, e->score);
    if (std::isnan(train.Row(i)[0])) {
      ++missing_rows;
      // A missing value is imputed to the mean (z = 0): only its indicator speaks.
      EXPECT_NEAR(e->contributions[0], r->model.indicator_weights()[0], 1e-12);
    } else {
      EXPECT_NEAR(
          e->contributions[0],
          r->model.weights()[0] * (train.Row(i)[0] - r->model.mean()[0]) / r->model.scale()[0],
          1e-9);
    }
  }
  EXPECT_GT(missing_rows, 10);
}

TEST(Logistic, SerializeParseRoundTripIsExactAndDamageIsRefused) {
  const Dataset train = MakeInformativeMissing(1000, 51);
  auto r = TrainLogistic(LogisticParams{}, train);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string bytes = r->model.Serialize();
  auto parsed = LogisticModel::Parse(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->feature_names(), train.feature_names);
  auto a = r->model.PredictBatch(train.features);
  auto b = parsed->PredictBatch(train.features);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);  // bit for bit
  EXPECT_EQ(parsed->Serialize(), bytes);

  for (size_t len = 0; len < bytes.size(); ++len) {
    auto t = LogisticModel::Parse(std::string_view(bytes).substr(0, len));
    ASSERT_FALSE(t.ok()) << "a prefix of " << len << " bytes parsed";
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  }
  auto truncated = LogisticModel::Parse(std::string_view(bytes).substr(0, bytes.size() - 9));
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos)
      << truncated.status();
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    ASSERT_FALSE(LogisticModel::Parse(bad).ok()) << "flipped byte " << i << " parsed";
  }
  std::string corrupt = bytes;
  corrupt[bytes.size() / 2] ^= 0x40;
  EXPECT_NE(LogisticModel::Parse(corrupt).status().message().find("checksum"), std::string::npos);
  EXPECT_FALSE(LogisticModel::Parse("RSGB not a logistic model at all").ok());
}

TEST(Logistic, BadInputIsRefusedNamingTheProblem) {
  Dataset train = MakeLinear(100, {1.0, 2.0}, 0, 61);
  auto message = [&](const LogisticParams& p, const Dataset& t, const Dataset* v = nullptr) {
    auto r = TrainLogistic(p, t, v);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  LogisticParams p;
  p.learning_rate = 0;
  EXPECT_NE(message(p, train).find("learning_rate"), std::string::npos);
  p = {};
  p.batch_size = 0;
  EXPECT_NE(message(p, train).find("batch_size"), std::string::npos);
  p = {};
  p.adam_beta2 = 1.0;
  EXPECT_NE(message(p, train).find("adam_beta2"), std::string::npos);
  p = {};
  p.l2 = -1;
  EXPECT_NE(message(p, train).find("l2"), std::string::npos);
  EXPECT_NE(std::string(ParseOptimizer("rmsprop").status().message()).find("rmsprop"),
            std::string::npos);
  EXPECT_EQ(*ParseOptimizer("momentum"), Optimizer::kMomentum);

  Dataset bad = train;
  bad.labels[7] = 2;
  EXPECT_NE(message({}, bad).find("row 7 has label 2"), std::string::npos);
  bad = train;
  bad.features[5 * 2 + 1] = std::numeric_limits<float>::infinity();
  EXPECT_NE(message({}, bad).find("row 5, feature 'f1'"), std::string::npos);
  bad = train;
  bad.features.pop_back();
  EXPECT_NE(message({}, bad).find("feature values"), std::string::npos);
  bad = train;
  bad.weights[3] = -1;
  EXPECT_NE(message({}, bad).find("weight"), std::string::npos);
  Dataset other = train;
  other.feature_names = {"f1", "f0"};
  EXPECT_NE(message({}, train, &other).find("validation set"), std::string::npos);
  Dataset all_missing = train;
  for (size_t i = 0; i < all_missing.rows(); ++i) {
    all_missing.features[i * 2] = std::numeric_limits<float>::quiet_NaN();
  }
  p = {};
  p.missing = MissingPolicy::kDropRows;
  EXPECT_NE(message(p, all_missing).find("missing"), std::string::npos);

  auto ok = TrainLogistic({}, train);
  ASSERT_TRUE(ok.ok());
  const std::vector<float> short_row = {1.0f};
  EXPECT_EQ(ok->model.Predict(short_row).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<float> ragged = {1.0f, 2.0f, 3.0f};
  EXPECT_FALSE(ok->model.PredictBatch(ragged).ok());
}

TEST(Logistic, InversePropensityWeightsCountLikeRepeatedRows) {
  // Weight 2 on a row = that row twice, for the loss and (full batch) the fit.
  Dataset base = MakeLinear(300, {1.0, -0.5}, 0.2, 71);
  Dataset weighted = base, repeated = base;
  for (size_t i = 0; i < base.rows(); i += 3) {
    weighted.weights[i] = 2.0f;
    repeated.AddRow(base.Row(i), base.labels[i], base.groups[i], 1.0f);
  }
  LogisticParams p;
  p.optimizer = Optimizer::kSgd;
  p.learning_rate = 1.0;
  p.epochs = 300;
  p.l2 = 0;
  p.standardize = false;  // the two sets' statistics would differ
  p.batch_size = 1 << 20;
  auto a = TrainLogistic(p, weighted);
  auto b = TrainLogistic(p, repeated);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t j = 0; j < 2; ++j) EXPECT_NEAR(a->model.weights()[j], b->model.weights()[j], 1e-9);
  EXPECT_NEAR(a->history.back().train_logloss, b->history.back().train_logloss, 1e-9);
}

}  // namespace
}  // namespace recstack::ml
