#pragma once

// Experiment readout from per-user aggregates (docs/experiments.md).
//
// Users are the unit of randomization, so each variant's CTR is a ratio of
// per-user means with a delta-method variance (intervals.h); treatment vs
// control compares two independent such ratios. The readout reports, per
// variant, CTR and its CI; per treatment, the absolute lift (CI and a
// two-sided z p-value), the relative lift with Fieller's CI, and the
// minimum detectable effect for the traffic so far; and a sample-ratio-
// mismatch chi-square p-value over user counts.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/stats/intervals.h"

namespace recstack::stats {

struct VariantData {
  std::string name;
  std::string ranker;
  double expected_share = 0;      // of users, in (0, 1]; shares sum to 1
  std::vector<UnitCounts> users;  // one entry per user assigned to the variant
};

struct ReadoutOptions {
  double alpha = 0.05;  // two-sided level of tests and 1 - confidence of CIs
  double power = 0.8;   // for the minimum detectable effect
};

struct VariantSummary {
  std::string name;
  std::string ranker;
  int64_t users = 0;
  int64_t impressions = 0;
  int64_t clicks = 0;
  double ctr = 0;
  Interval ctr_ci;           // delta method, clipped to [0, 1]
  double ctr_variance = 0;   // delta method
  double user_variance = 0;  // per-user variance of the linearized CTR
  double expected_share = 0;
};

struct Comparison {
  std::string variant;
  std::string control;
  double abs_lift = 0;  // ctr(variant) - ctr(control)
  Interval abs_lift_ci;
  double abs_lift_se = 0;
  // ctr(variant) / ctr(control) - 1; NaN when the control has no clicks.
  double rel_lift = 0;
  // Fieller's interval for the ratio, minus 1; infinite bounds when the
  // control's CTR is not significantly above 0.
  Interval rel_lift_ci;
  double p_value = 1;  // two-sided z on abs_lift / abs_lift_se
  // Smallest relative lift detected with probability `power` at level
  // `alpha` with this comparison's current standard error.
  double mde_rel = 0;
};

struct Readout {
  std::string experiment;
  std::string control;
  std::vector<VariantSummary> variants;  // in input order
  std::vector<Comparison> comparisons;   // every non-control variant vs control
  double srm_chi2 = 0;
  double srm_p_value = 1;
  double mde_rel = 0;  // the largest of the comparisons' (the weakest arm)
};

// InvalidArgument (message names the variant and the problem) for: fewer
// than 2 variants, an empty or duplicate name, a share outside (0, 1],
// shares not summing to 1 (within 1e-6), `control` not among the variants
// (empty = the first variant), bad counts, alpha not in (0, 0.5), power not
// in (0.5, 1). FailedPrecondition when a variant has fewer than 2 users or
// no impressions yet.
absl::StatusOr<Readout> ComputeReadout(const std::string& experiment,
                                       const std::vector<VariantData>& variants,
                                       const std::string& control = "",
                                       const ReadoutOptions& options = {});

// Pearson chi-square goodness of fit of observed counts to expected shares:
// statistic sum (O - E)^2 / E with k - 1 degrees of freedom.
struct ChiSquareTest {
  double statistic = 0;
  double df = 0;
  double p_value = 1;
};
absl::StatusOr<ChiSquareTest> SampleRatioMismatch(const std::vector<int64_t>& counts,
                                                  const std::vector<double>& expected_shares);

// Two-sided z test: P(|Z| >= |estimate / se|).
double TwoSidedPValue(double estimate, double se);

// Minimum detectable absolute effect of a two-sided level-alpha z test with
// standard error `se` at the given power: (z_{1-alpha/2} + z_power) * se.
double MinimumDetectableEffect(double se, double alpha = 0.05, double power = 0.8);

// Power of the two-sided level-alpha z test against a true effect `effect`
// when the estimate's standard error is `se`:
// Phi(effect/se - z) + Phi(-effect/se - z), z = z_{1-alpha/2}.
double PowerOfZTest(double effect, double se, double alpha = 0.05);

// Users per arm for a two-arm test with equal arms to detect a relative
// lift `rel_lift` of a baseline CTR `baseline` with probability `power` at
// level `alpha`, both arms with per-user variance `user_variance` (of the
// linearized CTR, RatioEstimate::unit_variance; p(1-p) for one Bernoulli
// impression per user):
//   n = (z_{1-alpha/2} + z_power)^2 * 2 user_variance / (rel_lift baseline)^2
// rounded up. InvalidArgument for a baseline outside (0, 1], a non-positive
// variance or lift, or alpha/power out of range.
absl::StatusOr<int64_t> UsersPerArm(double baseline, double user_variance, double rel_lift,
                                    double power = 0.8, double alpha = 0.05);

// Always-valid p-value of the mixture sequential probability ratio test
// (Johari, Pekelis & Walsh, "Always Valid Inference", 2017) with a normal
// mixing distribution N(0, tau2) over the effect. At each look, given the
// current estimate of the difference and its variance v:
//   Lambda = sqrt(v / (v + tau2)) exp(estimate^2 tau2 / (2 v (v + tau2)))
// and the p-value is min(previous, 1 / Lambda): it never rises, and the
// probability it ever falls below alpha under the null is at most alpha,
// however often it is read.
class MsprtPValue {
 public:
  // tau2 > 0: the prior scale of effects on the estimate's scale (e.g. the
  // square of a plausible absolute lift); InvalidArgument otherwise.
  static absl::StatusOr<MsprtPValue> Create(double tau2);
  // One look; returns the p-value so far. `variance` <= 0 is ignored.
  double Update(double estimate, double variance);
  double p_value() const { return p_; }

 private:
  explicit MsprtPValue(double tau2) : tau2_(tau2) {}
  double tau2_;
  double p_ = 1;
};

}  // namespace recstack::stats
