#include "common/stats/experiment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/stats/distributions.h"

namespace recstack::stats {
namespace {

constexpr double kZ95 = 1.959963984540054;
constexpr double kZ80 = 0.8416212335729143;

// n users with one impression each, `clicks` of them clicked.
VariantData Bernoulli(const std::string& name, double share, int n, int clicks) {
  VariantData v{.name = name, .ranker = name + "-ranker", .expected_share = share, .users = {}};
  v.users.assign(n, {1, 0});
  for (int i = 0; i < clicks; ++i) v.users[i].clicks = 1;
  return v;
}

// 52/48 on 20,000 users: chi2 = 2 * 400^2 / 10000 = 32, p = erfc(4).
TEST(Srm, FlagsFiftyTwoFortyEight) {
  auto t = SampleRatioMismatch({10400, 9600}, {0.5, 0.5});
  ASSERT_TRUE(t.ok());
  EXPECT_NEAR(t->statistic, 32, 1e-9);
  EXPECT_EQ(t->df, 1);
  EXPECT_NEAR(t->p_value / 1.541725790028002e-08, 1.0, 1e-9);
  EXPECT_LT(t->p_value, 0.001);
  auto even = SampleRatioMismatch({10000, 10000}, {0.5, 0.5});
  EXPECT_EQ(even->p_value, 1.0);
  // Through the readout, with the shares of the experiment's config.
  auto r = ComputeReadout("srm", {Bernoulli("a", 0.5, 10400, 500), Bernoulli("b", 0.5, 9600, 480)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(r->srm_p_value, 0.001);
  r = ComputeReadout("srm", {Bernoulli("a", 0.5, 10000, 500), Bernoulli("b", 0.5, 10000, 480)});
  EXPECT_GT(r->srm_p_value, 0.5);
  // Unequal shares: 70/30 observed exactly is no mismatch; 3 arms, df = 2
  // whose survival function is exp(-chi2 / 2).
  EXPECT_NEAR(SampleRatioMismatch({7000, 3000}, {0.7, 0.3})->p_value, 1.0, 1e-12);
  auto three = SampleRatioMismatch({1000, 1100, 900}, {1.0 / 3, 1.0 / 3, 1.0 / 3});
  EXPECT_NEAR(three->statistic, 20, 1e-9);
  EXPECT_NEAR(three->p_value, std::exp(-10), 1e-15);
  EXPECT_EQ(SampleRatioMismatch({1, 2}, {0.5, 0.6}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SampleRatioMismatch({1, 2}, {1.0}).status().code(), absl::StatusCode::kInvalidArgument);
}

// Unclustered case (one impression per user): the readout's CIs are the
// Wald binomial ones with n - 1 in place of n.
TEST(Readout, BernoulliUsersMatchClosedForm) {
  auto r = ComputeReadout(
      "ab", {Bernoulli("control", 0.5, 5000, 500), Bernoulli("treatment", 0.5, 5000, 600)});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->variants.size(), 2u);
  ASSERT_EQ(r->comparisons.size(), 1u);
  const VariantSummary& c = r->variants[0];
  EXPECT_EQ(c.users, 5000);
  EXPECT_EQ(c.impressions, 5000);
  EXPECT_EQ(c.clicks, 500);
  EXPECT_EQ(c.ranker, "control-ranker");
  EXPECT_DOUBLE_EQ(c.ctr, 0.1);
  const double vc = 0.1 * 0.9 / 4999, vt = 0.12 * 0.88 / 4999;
  EXPECT_NEAR(c.ctr_ci.lo, 0.1 - kZ95 * std::sqrt(vc), 1e-12);
  EXPECT_NEAR(c.ctr_ci.hi, 0.1 + kZ95 * std::sqrt(vc), 1e-12);
  const Comparison& cmp = r->comparisons[0];
  EXPECT_EQ(cmp.variant, "treatment");
  EXPECT_EQ(cmp.control, "control");
  EXPECT_NEAR(cmp.abs_lift, 0.02, 1e-15);
  EXPECT_NEAR(cmp.abs_lift_ci.lo, 0.02 - kZ95 * std::sqrt(vc + vt), 1e-12);
  EXPECT_NEAR(cmp.rel_lift, 0.2, 1e-12);
  EXPECT_LT(cmp.rel_lift_ci.lo, 0.2);
  EXPECT_GT(cmp.rel_lift_ci.hi, 0.2);
  EXPECT_GT(cmp.rel_lift_ci.lo, 0);  // significant, as the p-value says
  EXPECT_NEAR(cmp.p_value, 2 * NormalSf(0.02 / std::sqrt(vc + vt)), 1e-15);
  EXPECT_LT(cmp.p_value, 0.01);
  EXPECT_NEAR(cmp.mde_rel, (kZ95 + kZ80) * std::sqrt(vc + vt) / 0.1, 1e-12);
  EXPECT_EQ(r->mde_rel, cmp.mde_rel);
  EXPECT_EQ(r->srm_p_value, 1.0);
}

// Three arms, the control named explicitly; the readout's MDE is the
// weakest comparison's.
TEST(Readout, ExplicitControlAndThreeArms) {
  auto r = ComputeReadout("abc",
                          {Bernoulli("b", 0.25, 2500, 300), Bernoulli("a", 0.5, 5000, 500),
                           Bernoulli("c", 0.25, 2500, 250)},
                          "a");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->control, "a");
  ASSERT_EQ(r->comparisons.size(), 2u);
  EXPECT_EQ(r->comparisons[0].variant, "b");
  EXPECT_EQ(r->comparisons[1].variant, "c");
  EXPECT_NEAR(r->comparisons[1].abs_lift, 0, 1e-15);
  EXPECT_NEAR(r->comparisons[1].p_value, 1, 1e-12);
  EXPECT_EQ(r->mde_rel, std::max(r->comparisons[0].mde_rel, r->comparisons[1].mde_rel));
}

TEST(Readout, ControlWithoutClicksHasNoRelativeLift) {
  auto r = ComputeReadout("z", {Bernoulli("a", 0.5, 100, 0), Bernoulli("b", 0.5, 100, 5)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(std::isnan(r->comparisons[0].rel_lift));
  EXPECT_TRUE(std::isinf(r->comparisons[0].rel_lift_ci.lo));
  EXPECT_TRUE(std::isnan(r->mde_rel));
  // A CTR interval that would cross 0 (1 click in 100: 0.01 - 0.0195) is
  // clipped at 0.
  r = ComputeReadout("z", {Bernoulli("a", 0.5, 100, 1), Bernoulli("b", 0.5, 100, 5)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->variants[0].ctr_ci.lo, 0);
  EXPECT_NEAR(r->variants[0].ctr_ci.hi, 0.01 + kZ95 * std::sqrt(0.01 * 0.99 / 99), 1e-12);
}

TEST(Readout, BadInputNamesTheProblem) {
  auto expect = [](absl::StatusOr<Readout> r, absl::StatusCode code, const std::string& needle) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect(ComputeReadout("x", {Bernoulli("a", 0.5, 10, 1), Bernoulli("b", 0.4, 10, 1)}),
         absl::StatusCode::kInvalidArgument, "sum to 0.9");
  expect(ComputeReadout("x", {Bernoulli("a", 1, 10, 1)}), absl::StatusCode::kInvalidArgument,
         "at least one treatment");
  expect(ComputeReadout("x", {Bernoulli("a", 0.5, 10, 1), Bernoulli("a", 0.5, 10, 1)}),
         absl::StatusCode::kInvalidArgument, "'a' appears twice");
  expect(ComputeReadout("x", {Bernoulli("a", 0.5, 10, 1), Bernoulli("b", 0.5, 10, 1)}, "z"),
         absl::StatusCode::kInvalidArgument, "control 'z'");
  expect(ComputeReadout("x", {Bernoulli("a", 0.5, 10, 1), Bernoulli("b", 0, 10, 1)}),
         absl::StatusCode::kInvalidArgument, "variant 'b': expected share");
  VariantData bad = Bernoulli("b", 0.5, 10, 1);
  bad.users[3] = {2, 5};
  expect(ComputeReadout("x", {Bernoulli("a", 0.5, 10, 1), bad}), absl::StatusCode::kInvalidArgument,
         "variant 'b': unit 3 has 5 clicks");
  expect(ComputeReadout("x", {Bernoulli("a", 0.5, 10, 1), Bernoulli("b", 0.5, 1, 1)}),
         absl::StatusCode::kFailedPrecondition, "variant 'b'");
  expect(ComputeReadout("x", {Bernoulli("a", 0.5, 10, 1), Bernoulli("b", 0.5, 10, 1)}, "",
                        {.alpha = 0.7}),
         absl::StatusCode::kInvalidArgument, "alpha");
}

// Lehr's rule: n ~ 16 sigma^2 / delta^2 per arm at 80% power, alpha 0.05
// (exactly 2 (z_.975 + z_.8)^2 = 15.70). 10% baseline, 10% lift: 14128.
TEST(SampleSize, ClosedFormAndInverseOfMde) {
  auto n = UsersPerArm(0.1, 0.09, 0.1);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 14128);
  // The MDE at that n is the lift asked for (up to the rounding of n).
  const double se = std::sqrt(2 * 0.09 / static_cast<double>(*n));
  EXPECT_NEAR(MinimumDetectableEffect(se) / 0.1, 0.1, 1e-4);
  EXPECT_NEAR(PowerOfZTest(0.01, se), 0.8, 1e-4);
  EXPECT_NEAR(PowerOfZTest(0, se), 0.05, 1e-12);
  EXPECT_EQ(*UsersPerArm(0.1, 0.09, 0.1, 0.9), 18914);  // 2 (1.95996 + 1.28155)^2 0.09 / 1e-4
  EXPECT_EQ(UsersPerArm(0, 0.09, 0.1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UsersPerArm(0.1, 0.09, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UsersPerArm(0.1, -1, 0.1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UsersPerArm(0.1, 0.09, 0.1, 0.3).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Msprt, ClosedFormAndMonotone) {
  auto m = MsprtPValue::Create(1e-4);
  ASSERT_TRUE(m.ok());
  // v = 1e-4 = tau2: Lambda = sqrt(1/2) exp(d^2 / (4 v)); d = 0.04 -> exp(4).
  EXPECT_NEAR(m->Update(0.04, 1e-4), std::sqrt(2) * std::exp(-4), 1e-15);
  EXPECT_NEAR(m->Update(0.0, 1e-4), std::sqrt(2) * std::exp(-4), 1e-15);  // never rises
  EXPECT_EQ(MsprtPValue::Create(1e-4)->Update(0, 1e-4), 1.0);
  EXPECT_EQ(MsprtPValue::Create(0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recstack::stats
