// The click model of --simulate-clicks: position bias (1/p)^eta times the
// true click probability, its bookkeeping per experiment variant, and the
// oracle and random baselines under the same model. No sockets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/data/synthetic.h"
#include "common/math/rng.h"
#include "loadtest/runner.h"
#include "loadtest/workload.h"

namespace recstack::loadtest {
namespace {

TEST(ClickModel, ExaminationProbabilityIsTheClosedForm) {
  // Values worked out by hand.
  EXPECT_DOUBLE_EQ(ExaminationProbability(1, 1), 1.0);
  EXPECT_DOUBLE_EQ(ExaminationProbability(1, 7.5), 1.0);
  EXPECT_DOUBLE_EQ(ExaminationProbability(2, 1), 0.5);
  EXPECT_DOUBLE_EQ(ExaminationProbability(10, 1), 0.1);
  EXPECT_DOUBLE_EQ(ExaminationProbability(3, 2), 1.0 / 9.0);
  EXPECT_DOUBLE_EQ(ExaminationProbability(4, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(ExaminationProbability(2, 10), 1.0 / 1024.0);
  for (double eta : {0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 10.0}) {
    double previous = 2;
    for (int p = 1; p <= 50; ++p) {
      const double e = ExaminationProbability(p, eta);
      EXPECT_NEAR(e, std::exp(-eta * std::log(static_cast<double>(p))), 1e-12)
          << "p " << p << " eta " << eta;
      EXPECT_GT(e, 0.0);
      EXPECT_LE(e, 1.0);
      // Strictly less likely further down when eta > 0; always 1 when 0.
      if (eta > 0) {
        EXPECT_LT(e, previous) << "p " << p << " eta " << eta;
      } else {
        EXPECT_EQ(e, 1.0);
      }
      previous = e;
      EXPECT_DOUBLE_EQ(SimulatedClickProbability(p, eta, 0.3), 0.3 * e);
    }
  }
}

// Many simulated users at each of positions 1..10: the click rate at
// position p is (1/p)^eta * prob within 4 binomial standard errors.
TEST(ClickModel, EmpiricalClickRateByPositionMatchesTheModel) {
  constexpr int kDraws = 200'000;
  // A different true probability per position, so a mixed-up position
  // shows too.
  const std::array<double, 10> prob = {0.9, 0.8, 0.35, 0.6, 0.5, 0.45, 0.7, 0.3, 0.25, 0.2};
  for (double eta : {0.0, 0.5, 1.0, 2.0}) {
    math::Rng rng(42);
    ClickStats stats;
    std::array<int64_t, 10> clicks{};
    for (int i = 0; i < kDraws; ++i) {
      for (int p = 1; p <= 10; ++p) {
        if (stats.Record("v", p, eta, prob[p - 1], rng.Uniform())) ++clicks[p - 1];
      }
    }
    double expected_total = 0;
    for (int p = 1; p <= 10; ++p) {
      const double q = std::pow(1.0 / p, eta) * prob[p - 1];
      expected_total += q * kDraws;
      const double rate = static_cast<double>(clicks[p - 1]) / kDraws;
      const double se = std::sqrt(q * (1 - q) / kDraws);
      EXPECT_NEAR(rate, q, 4 * se) << "eta " << eta << " position " << p;
    }
    EXPECT_EQ(stats.impressions, 10 * kDraws);
    EXPECT_EQ(stats.by_variant["v"].impressions, 10 * kDraws);
    int64_t total = 0;
    for (int64_t c : clicks) total += c;
    EXPECT_EQ(stats.clicks, total);
    // expected_clicks carries the examination probability.
    EXPECT_NEAR(stats.expected_clicks, expected_total, 1e-6 * expected_total) << "eta " << eta;
  }
}

// eta 0 is the model before position bias: every item is examined and a
// draw u clicks exactly when u < prob, the same draws giving the same clicks.
TEST(ClickModel, EtaZeroIsTheUnbiasedModel) {
  math::Rng rng(7);
  ClickStats stats;
  double sum_prob = 0;
  int64_t old_clicks = 0;
  for (int i = 0; i < 100'000; ++i) {
    const int p = 1 + static_cast<int>(rng.Below(100));
    const double prob = rng.Uniform();
    const double u = rng.Uniform();
    EXPECT_EQ(ExaminationProbability(p, 0), 1.0);
    ASSERT_EQ(SimulatedClick(p, 0, prob, u), u < prob) << "p " << p << " prob " << prob;
    ASSERT_EQ(stats.Record("", p, 0, prob, u), u < prob);
    sum_prob += prob;
    old_clicks += u < prob ? 1 : 0;
  }
  EXPECT_EQ(stats.clicks, old_clicks);
  EXPECT_DOUBLE_EQ(stats.expected_clicks, sum_prob);
  // With eta > 0 the same draws click less below position 1.
  EXPECT_FALSE(SimulatedClick(2, 1, 0.5, 0.3));
  EXPECT_TRUE(SimulatedClick(2, 0, 0.5, 0.3));
  EXPECT_TRUE(SimulatedClick(1, 1, 0.5, 0.3));
}

TEST(ClickModel, ValidateRefusesBadPositionBias) {
  EXPECT_EQ(RunOptions{}.position_bias, 1.0);
  for (double eta : {0.0, 0.5, 1.0, 10.0}) {
    RunOptions o;
    o.position_bias = eta;
    EXPECT_TRUE(o.Validate().ok()) << eta << ": " << o.Validate();
    EXPECT_TRUE(ValidatePositionBias(eta).ok()) << eta;
  }
  for (double eta : {-1.0, -1e-9, 10.000001, 11.0, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    RunOptions o;
    o.position_bias = eta;
    const absl::Status st = o.Validate();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << eta;
    EXPECT_NE(std::string(st.message()).find("--position-bias"), std::string::npos) << st.message();
    EXPECT_FALSE(ValidatePositionBias(eta).ok()) << eta;
  }
}

TEST(ClickStats, CountsPerVariantWithNoneForAnswersWithoutOne) {
  EXPECT_EQ(VariantKey(""), "none");
  EXPECT_EQ(VariantKey("treatment"), "treatment");
  ClickStats a, b;
  // variant "control": 4 impressions, 1 click, P(click) 0.5 + 0.25 + 0.5 + 0.5.
  EXPECT_TRUE(a.Record("control", 1, 1, 0.5, 0.1));
  EXPECT_FALSE(a.Record("control", 2, 1, 0.5, 0.3));  // 0.3 >= 0.25: not examined
  EXPECT_FALSE(a.Record("control", 1, 1, 0.5, 0.7));
  EXPECT_FALSE(b.Record("control", 1, 1, 0.5, 0.5));  // u == P: no click
  // variant "treatment": 2 impressions, 2 clicks, P(click) 0.4 + 0.4.
  EXPECT_TRUE(b.Record("treatment", 1, 2, 0.4, 0.0));
  EXPECT_TRUE(b.Record("treatment", 1, 2, 0.4, 0.39));
  // no variant (e.g. degraded): 1 impression, 0 clicks.
  EXPECT_FALSE(b.Record("", 3, 0, 0.0, 0.0));
  a.events_sent = 1;
  b.events_sent = 2;
  b.events_failed = 1;
  a.Merge(b);

  const nlohmann::json j = a.ToJson();
  EXPECT_EQ(j["impressions"].get<int64_t>(), 7);
  EXPECT_EQ(j["clicks"].get<int64_t>(), 3);
  EXPECT_DOUBLE_EQ(j["ctr"].get<double>(), 3.0 / 7);
  EXPECT_DOUBLE_EQ(j["expected_ctr"].get<double>(), (0.5 + 0.25 + 0.5 + 0.5 + 0.4 + 0.4) / 7);
  EXPECT_EQ(j["click_requests"].get<int64_t>(), 3);
  EXPECT_EQ(j["click_requests_failed"].get<int64_t>(), 1);
  const nlohmann::json& v = j["by_variant"];
  ASSERT_EQ(v.size(), 3u) << v.dump();
  EXPECT_EQ(v["control"]["impressions"].get<int64_t>(), 4);
  EXPECT_EQ(v["control"]["clicks"].get<int64_t>(), 1);
  EXPECT_DOUBLE_EQ(v["control"]["ctr"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(v["control"]["expected_ctr"].get<double>(), 1.75 / 4);
  EXPECT_EQ(v["treatment"]["impressions"].get<int64_t>(), 2);
  EXPECT_DOUBLE_EQ(v["treatment"]["ctr"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(v["treatment"]["expected_ctr"].get<double>(), 0.4);
  EXPECT_EQ(v["none"]["impressions"].get<int64_t>(), 1);
  EXPECT_EQ(v["none"]["clicks"].get<int64_t>(), 0);

  nlohmann::json with_share = j;
  AddShareOfOracle(with_share, 0.5);
  EXPECT_DOUBLE_EQ(with_share["share_of_oracle"].get<double>(), (3.0 / 7) / 0.5);
  EXPECT_DOUBLE_EQ(with_share["by_variant"]["control"]["share_of_oracle"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(with_share["by_variant"]["treatment"]["share_of_oracle"].get<double>(), 2.0);
  nlohmann::json no_oracle = j;
  AddShareOfOracle(no_oracle, 0);
  EXPECT_FALSE(no_oracle.contains("share_of_oracle"));
  EXPECT_FALSE(no_oracle["by_variant"]["control"].contains("share_of_oracle"));

  ClickBaselines base{.oracle_ctr = 0.5, .random_ctr = 0.02, .position_bias = 1};
  const std::string text = ClickSummary(with_share, base, 10);
  EXPECT_NE(text.find("ctr 0.4286"), std::string::npos) << text;
  EXPECT_NE(text.find("85.7% of the oracle"), std::string::npos) << text;
  EXPECT_NE(text.find("variant control"), std::string::npos) << text;
  EXPECT_NE(text.find("variant treatment"), std::string::npos) << text;
  EXPECT_NE(text.find("variant none"), std::string::npos) << text;
  EXPECT_NE(text.find("position bias 1"), std::string::npos) << text;
}

class Baselines : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("recstack-loadtest-clicks-", ::getpid());
    const data::SyntheticParams p{.users = 300, .items = 200, .interactions = 6000, .seed = 11};
    ASSERT_TRUE(data::GenerateSynthetic(p, dir_.string()).ok());
    auto truth = data::GroundTruth::Load(dir_.string());
    ASSERT_TRUE(truth.ok()) << truth.status();
    truth_ = std::make_unique<data::GroundTruth>(std::move(*truth));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::unique_ptr<data::GroundTruth> truth_;
};

// One user, so the oracle is exact: the true top-k in true order, position
// p weighted by (1/p)^eta. Random items converge to the mean P(click) over
// all items times the mean examination probability of positions 1..k.
TEST_F(Baselines, UseTheSameExaminationModel) {
  const std::string user = "u17";
  const Catalog catalog{.users = {user}, .items = truth_->item_ids()};
  constexpr int kK = 10;
  auto top = truth_->TrueTopK(user, kK);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(static_cast<int>(top->size()), kK);
  constexpr int kSamples = 20'000;
  double mean_item = 0, mean_sq = 0;
  for (const std::string& item : truth_->item_ids()) {
    const double q = *truth_->ClickProbability(user, item);
    mean_item += q;
    mean_sq += q * q;
  }
  const double n_items = static_cast<double>(truth_->item_ids().size());
  mean_item /= n_items;
  const double var_item = mean_sq / n_items - mean_item * mean_item;

  double oracle_unbiased = 0;
  for (double eta : {0.0, 0.5, 1.0, 2.0}) {
    double oracle = 0, mean_exam = 0, sum_sq_exam = 0;
    for (int i = 0; i < kK; ++i) {
      const double e = std::pow(1.0 / (i + 1), eta);
      oracle += e * *truth_->ClickProbability(user, (*top)[i]);
      mean_exam += e;
      sum_sq_exam += e * e;
    }
    oracle /= kK;
    mean_exam /= kK;
    // The random baseline averages kSamples * kK independent e_p * q draws.
    const double se = std::sqrt(var_item * sum_sq_exam / kSamples) / kK;
    const ClickBaselines b = ComputeClickBaselines(*truth_, catalog, 0.8, kK, kSamples, 3, eta);
    EXPECT_EQ(b.position_bias, eta);
    EXPECT_NEAR(b.oracle_ctr, oracle, 1e-9) << "eta " << eta;
    EXPECT_NEAR(b.random_ctr, mean_item * mean_exam, 4 * se) << "eta " << eta;
    EXPECT_GT(b.oracle_ctr, b.random_ctr);
    if (eta == 0) {
      oracle_unbiased = b.oracle_ctr;
    } else {
      EXPECT_LT(b.oracle_ctr, oracle_unbiased) << "eta " << eta;
    }
    const nlohmann::json j = b.ToJson();
    EXPECT_EQ(j["position_bias"].get<double>(), eta);
    EXPECT_DOUBLE_EQ(j["oracle_ctr"].get<double>(), b.oracle_ctr);
    EXPECT_DOUBLE_EQ(j["random_ctr"].get<double>(), b.random_ctr);
  }
}

}  // namespace
}  // namespace recstack::loadtest
