#include "common/stats/intervals.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/math/rng.h"

namespace recstack::stats {
namespace {

constexpr double kZ95 = 1.959963984540054;

// 10 successes in 100 trials; values from the closed forms
// (also statsmodels proportion_confint(10, 100, method="wilson"/"normal")).
TEST(Binomial, KnownIntervals) {
  auto wilson = WilsonInterval(10, 100);
  ASSERT_TRUE(wilson.ok());
  EXPECT_NEAR(wilson->lo, 0.0552291370606751, 1e-12);
  EXPECT_NEAR(wilson->hi, 0.17436566150491345, 1e-12);
  auto wald = NormalInterval(10, 100);
  ASSERT_TRUE(wald.ok());
  EXPECT_NEAR(wald->lo, 0.1 - kZ95 * 0.03, 1e-12);
  EXPECT_NEAR(wald->hi, 0.1 + kZ95 * 0.03, 1e-12);
  // No successes: Wilson's upper end is z^2 / (n + z^2); Wald collapses to 0.
  auto zero = WilsonInterval(0, 50);
  ASSERT_TRUE(zero.ok());
  EXPECT_NEAR(zero->lo, 0, 1e-15);
  EXPECT_NEAR(zero->hi, kZ95 * kZ95 / (50 + kZ95 * kZ95), 1e-12);
  EXPECT_EQ(NormalInterval(0, 50)->hi, 0);
  // 99%: z = 2.5758293035489004.
  auto w99 = NormalInterval(30, 60, 0.99);
  EXPECT_NEAR(w99->hi - 0.5, 2.5758293035489004 * std::sqrt(0.25 / 60), 1e-12);
}

TEST(Binomial, BadInput) {
  EXPECT_EQ(WilsonInterval(1, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WilsonInterval(11, 10).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalInterval(-1, 10).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WilsonInterval(1, 10, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
}

// Wilson's coverage stays near nominal where Wald's collapses (n p = 1).
TEST(Binomial, CoverageBySimulation) {
  math::Rng rng(11);
  const int kSims = 4000;
  auto coverage = [&](int n, double p) {
    int wilson = 0, wald = 0;
    for (int s = 0; s < kSims; ++s) {
      int x = 0;
      for (int i = 0; i < n; ++i) x += rng.Uniform() < p;
      const Interval a = *WilsonInterval(x, n), b = *NormalInterval(x, n);
      wilson += a.lo <= p && p <= a.hi;
      wald += b.lo <= p && p <= b.hi;
    }
    return std::pair{wilson / double(kSims), wald / double(kSims)};
  };
  auto [wilson, wald] = coverage(200, 0.3);
  EXPECT_NEAR(wilson, 0.95, 0.02);
  EXPECT_NEAR(wald, 0.95, 0.025);
  std::tie(wilson, wald) = coverage(20, 0.05);
  EXPECT_GT(wilson, 0.9);
  EXPECT_LT(wald, 0.75);  // Wald misses every sample with 0 successes (36%)
}

// One impression per unit: the ratio is a binomial proportion and the delta
// variance reduces to p(1-p)/(n-1).
TEST(Ratio, OneImpressionPerUnitIsBinomial) {
  std::vector<UnitCounts> units(400, {1, 0});
  for (int i = 0; i < 60; ++i) units[i * 6].clicks = 1;
  auto r = RatioOfMeans(units);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->units, 400);
  EXPECT_EQ(r->clicks, 60);
  EXPECT_DOUBLE_EQ(r->ratio, 0.15);
  EXPECT_NEAR(r->variance, 0.15 * 0.85 / 399, 1e-15);
  EXPECT_NEAR(r->unit_variance, 0.15 * 0.85 * 400 / 399, 1e-13);
}

// Identical units (same impressions, same clicks): no between-unit spread.
// Scaling every unit's counts by c leaves the ratio and its variance alone.
TEST(Ratio, InvariantToScalingAndZeroForIdenticalUnits) {
  std::vector<UnitCounts> same(10, {8, 2});
  EXPECT_NEAR(RatioOfMeans(same)->variance, 0, 1e-18);
  std::vector<UnitCounts> a = {{3, 1}, {10, 0}, {7, 4}, {1, 1}, {12, 2}}, b;
  for (const UnitCounts& u : a) b.push_back({u.impressions * 5, u.clicks * 5});
  EXPECT_DOUBLE_EQ(RatioOfMeans(a)->ratio, RatioOfMeans(b)->ratio);
  EXPECT_NEAR(RatioOfMeans(a)->variance / RatioOfMeans(b)->variance, 1.0, 1e-12);
}

TEST(Ratio, BadInput) {
  std::vector<UnitCounts> bad = {{3, 1}, {2, 3}};
  auto r = RatioOfMeans(bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("unit 1 has 3 clicks"), std::string::npos)
      << r.status().message();
  std::vector<UnitCounts> neg = {{3, 1}, {-2, 0}};
  EXPECT_EQ(RatioOfMeans(neg).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<UnitCounts> one = {{3, 1}};
  EXPECT_EQ(RatioOfMeans(one).status().code(), absl::StatusCode::kFailedPrecondition);
  std::vector<UnitCounts> none = {{0, 0}, {0, 0}};
  EXPECT_EQ(RatioOfMeans(none).status().code(), absl::StatusCode::kFailedPrecondition);
}

// With a known denominator (vb = 0) Fieller's interval is (a +- z sqrt(va)) / b.
TEST(Fieller, ExactDenominatorAndAgreementWithZTest) {
  const Interval i = FiellerRatio(0.06, 4e-6, 0.05, 0);
  EXPECT_NEAR(i.lo, (0.06 - kZ95 * 2e-3) / 0.05, 1e-12);
  EXPECT_NEAR(i.hi, (0.06 + kZ95 * 2e-3) / 0.05, 1e-12);
  // The interval excludes 1 exactly when |a - b| / sqrt(va + vb) > z.
  for (double a = 0.040; a < 0.060; a += 0.0005) {
    for (double va : {1e-6, 4e-6, 2.5e-5}) {
      const double vb = 3e-6, b = 0.05;
      const Interval f = FiellerRatio(a, va, b, vb);
      const bool excludes = f.lo > 1 || f.hi < 1;
      const bool rejects = std::fabs(a - b) / std::sqrt(va + vb) > kZ95;
      EXPECT_EQ(excludes, rejects) << "a=" << a << " va=" << va;
      EXPECT_LT(f.lo, a / b);
      EXPECT_GT(f.hi, a / b);
    }
  }
  // Denominator not distinguishable from 0: unbounded.
  const Interval u = FiellerRatio(0.05, 1e-6, 0.001, 1e-6);
  EXPECT_TRUE(std::isinf(u.lo) && std::isinf(u.hi));
}

}  // namespace
}  // namespace recstack::stats
