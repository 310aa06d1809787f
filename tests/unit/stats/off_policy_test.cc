#include "common/stats/off_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/math/rng.h"

namespace recstack::stats {
namespace {

// A contextual bandit whose value is known: 4 contexts, 5 actions, click
// probabilities q[c][a]. The logging policy explores (every action has
// probability >= 0.05); the target puts most mass on the best action and
// none on some actions.
constexpr int kContexts = 4, kActions = 5;
constexpr double kQ[kContexts][kActions] = {{0.02, 0.05, 0.10, 0.20, 0.04},
                                            {0.30, 0.05, 0.01, 0.02, 0.08},
                                            {0.06, 0.06, 0.15, 0.03, 0.01},
                                            {0.01, 0.12, 0.02, 0.04, 0.25}};
constexpr double kLogging[kContexts][kActions] = {{0.40, 0.30, 0.10, 0.05, 0.15},
                                                  {0.05, 0.40, 0.30, 0.20, 0.05},
                                                  {0.20, 0.40, 0.05, 0.25, 0.10},
                                                  {0.30, 0.20, 0.25, 0.20, 0.05}};
constexpr double kTarget[kContexts][kActions] = {{0.0, 0.0, 0.2, 0.8, 0.0},
                                                 {0.9, 0.0, 0.0, 0.0, 0.1},
                                                 {0.1, 0.0, 0.9, 0.0, 0.0},
                                                 {0.0, 0.3, 0.0, 0.0, 0.7}};

double PolicyValue(const double (&policy)[kContexts][kActions]) {
  double v = 0;
  for (int c = 0; c < kContexts; ++c) {
    for (int a = 0; a < kActions; ++a) v += policy[c][a] * kQ[c][a] / kContexts;
  }
  return v;
}

std::vector<LoggedAction> DrawLog(math::Rng& rng, int n) {
  std::vector<LoggedAction> log(n);
  for (LoggedAction& rec : log) {
    const int c = static_cast<int>(rng.Below(kContexts));
    double u = rng.Uniform();
    int a = 0;
    while (a < kActions - 1 && u >= kLogging[c][a]) u -= kLogging[c][a++];
    rec.logging_propensity = kLogging[c][a];
    rec.target_probability = kTarget[c][a];
    rec.reward = rng.Uniform() < kQ[c][a] ? 1 : 0;
  }
  return log;
}

// Over 400 logs of 2,000 records: the mean estimate is within 3 standard
// errors of the target's true value (unbiased), the CIs cover it about 95%
// of the time, and the logging policy's own CTR is far from it (so the
// check would catch unweighted estimates).
TEST(OffPolicy, UnbiasedAndCoveredInSimulation) {
  const double truth = PolicyValue(kTarget), logged = PolicyValue(kLogging);
  ASSERT_GT(std::fabs(truth - logged), 0.08);
  math::Rng rng(31);
  const int kReps = 400;
  double sum[2] = {0, 0}, sum2[2] = {0, 0};
  int covered[2] = {0, 0};
  double ess = 0;
  for (int r = 0; r < kReps; ++r) {
    const std::vector<LoggedAction> log = DrawLog(rng, 2000);
    auto ips = InversePropensityEstimate(log);
    auto snips = SelfNormalizedEstimate(log);
    ASSERT_TRUE(ips.ok() && snips.ok());
    const OffPolicyEstimate* est[2] = {&*ips, &*snips};
    for (int k = 0; k < 2; ++k) {
      sum[k] += est[k]->estimate;
      sum2[k] += est[k]->estimate * est[k]->estimate;
      covered[k] += est[k]->ci.lo <= truth && truth <= est[k]->ci.hi;
    }
    ess += snips->effective_sample_size;
  }
  const char* names[2] = {"IPS", "SNIPS"};
  for (int k = 0; k < 2; ++k) {
    const double mean = sum[k] / kReps;
    const double sd = std::sqrt(sum2[k] / kReps - mean * mean);
    const double coverage = covered[k] / double(kReps);
    std::printf("%s: truth %.4f, mean %.4f (sd %.4f), coverage %.3f\n", names[k], truth, mean, sd,
                coverage);
    EXPECT_NEAR(mean, truth, 3 * sd / std::sqrt(kReps)) << names[k];
    EXPECT_NEAR(coverage, 0.95, 0.03) << names[k];
  }
  EXPECT_LT(ess / kReps, 2000);
  EXPECT_GT(ess / kReps, 100);
}

// On-policy (target = logging): weights are 1 and both estimators are the
// sample mean with the sample variance / n.
TEST(OffPolicy, OnPolicyIsTheSampleMean) {
  std::vector<LoggedAction> log;
  for (int i = 0; i < 50; ++i) log.push_back({0.25, 0.25, i % 5 == 0 ? 1.0 : 0.0});
  const double p = 0.2, var = p * (1 - p) * 50 / 49 / 50;
  for (auto est : {InversePropensityEstimate(log), SelfNormalizedEstimate(log)}) {
    ASSERT_TRUE(est.ok());
    EXPECT_NEAR(est->estimate, p, 1e-15);
    EXPECT_NEAR(est->variance, var, 1e-15);
    EXPECT_NEAR(est->effective_sample_size, 50, 1e-9);
    EXPECT_NEAR(est->ci.hi - p, 1.959963984540054 * std::sqrt(var), 1e-12);
  }
}

TEST(OffPolicy, BadInput) {
  std::vector<LoggedAction> log = {{0.5, 0.5, 1}, {0.0, 0.5, 0}};
  auto r = InversePropensityEstimate(log);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("record 1: logging propensity"), std::string::npos);
  log[1] = {0.5, 1.5, 0};
  EXPECT_EQ(SelfNormalizedEstimate(log).status().code(), absl::StatusCode::kInvalidArgument);
  log[1] = {0.5, 0.5, 2};
  EXPECT_EQ(SelfNormalizedEstimate(log).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<LoggedAction> one = {{0.5, 0.5, 1}};
  EXPECT_EQ(InversePropensityEstimate(one).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<LoggedAction> never = {{0.5, 0, 1}, {0.5, 0, 0}};
  EXPECT_EQ(SelfNormalizedEstimate(never).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(InversePropensityEstimate(never).ok());  // IPS of a policy never matching: 0
}

}  // namespace
}  // namespace recstack::stats
