#include "common/stats/experiment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/stats/distributions.h"

namespace recstack::stats {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

absl::Status CheckLevels(double alpha, double power) {
  if (!(alpha > 0 && alpha < 0.5)) {
    return absl::InvalidArgumentError(absl::StrCat("alpha must be in (0, 0.5), got ", alpha));
  }
  if (!(power > 0.5 && power < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("power must be in (0.5, 1), got ", power));
  }
  return absl::OkStatus();
}

}  // namespace

double TwoSidedPValue(double estimate, double se) {
  if (!(se > 0)) return estimate == 0 ? 1.0 : 0.0;
  return 2 * NormalSf(std::fabs(estimate) / se);
}

double MinimumDetectableEffect(double se, double alpha, double power) {
  return (NormalQuantile(1 - alpha / 2) + NormalQuantile(power)) * se;
}

double PowerOfZTest(double effect, double se, double alpha) {
  const double z = NormalQuantile(1 - alpha / 2);
  return NormalCdf(effect / se - z) + NormalCdf(-effect / se - z);
}

absl::StatusOr<int64_t> UsersPerArm(double baseline, double user_variance, double rel_lift,
                                    double power, double alpha) {
  if (!(baseline > 0 && baseline <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("baseline must be in (0, 1], got ", baseline));
  }
  if (!(user_variance > 0) || !std::isfinite(user_variance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("per-user variance must be > 0, got ", user_variance));
  }
  if (!(rel_lift != 0) || !std::isfinite(rel_lift)) {
    return absl::InvalidArgumentError(
        absl::StrCat("relative lift must be non-zero and finite, got ", rel_lift));
  }
  if (absl::Status s = CheckLevels(alpha, power); !s.ok()) return s;
  const double z = NormalQuantile(1 - alpha / 2) + NormalQuantile(power);
  const double delta = rel_lift * baseline;
  const double n = z * z * 2 * user_variance / (delta * delta);
  if (n > 9e18) return absl::InvalidArgumentError("the required sample size overflows int64");
  return static_cast<int64_t>(std::ceil(n));
}

absl::StatusOr<ChiSquareTest> SampleRatioMismatch(const std::vector<int64_t>& counts,
                                                  const std::vector<double>& expected_shares) {
  if (counts.size() != expected_shares.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(counts.size(), " counts but ", expected_shares.size(), " expected shares"));
  }
  if (counts.size() < 2) return absl::InvalidArgumentError("a chi-square test needs >= 2 groups");
  double total = 0, share_sum = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("count ", i, " is negative: ", counts[i]));
    }
    if (!(expected_shares[i] > 0 && expected_shares[i] <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected share ", i, " must be in (0, 1], got ", expected_shares[i]));
    }
    total += static_cast<double>(counts[i]);
    share_sum += expected_shares[i];
  }
  if (std::fabs(share_sum - 1) > 1e-6) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected shares must sum to 1, they sum to ", share_sum));
  }
  ChiSquareTest t;
  t.df = static_cast<double>(counts.size() - 1);
  if (total == 0) return t;  // no users: nothing mismatched yet
  for (size_t i = 0; i < counts.size(); ++i) {
    const double e = total * expected_shares[i] / share_sum;
    const double d = static_cast<double>(counts[i]) - e;
    t.statistic += d * d / e;
  }
  t.p_value = ChiSquareSf(t.statistic, t.df);
  return t;
}

absl::StatusOr<Readout> ComputeReadout(const std::string& experiment,
                                       const std::vector<VariantData>& variants,
                                       const std::string& control, const ReadoutOptions& options) {
  if (absl::Status s = CheckLevels(options.alpha, options.power); !s.ok()) return s;
  if (variants.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("experiment '", experiment,
                                                   "' needs a control and at least one "
                                                   "treatment, got ",
                                                   variants.size(), " variant(s)"));
  }
  std::set<std::string> names;
  double share_sum = 0;
  for (const VariantData& v : variants) {
    if (v.name.empty()) return absl::InvalidArgumentError("a variant has an empty name");
    if (!names.insert(v.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("variant '", v.name, "' appears twice"));
    }
    if (!(v.expected_share > 0 && v.expected_share <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "variant '", v.name, "': expected share must be in (0, 1], got ", v.expected_share));
    }
    share_sum += v.expected_share;
  }
  if (std::fabs(share_sum - 1) > 1e-6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "experiment '", experiment, "': expected traffic shares sum to ", share_sum, ", not 1"));
  }
  Readout out;
  out.experiment = experiment;
  out.control = control.empty() ? variants.front().name : control;
  if (!names.contains(out.control)) {
    return absl::InvalidArgumentError(
        absl::StrCat("control '", out.control, "' is not a variant of '", experiment, "'"));
  }
  const double confidence = 1 - options.alpha;
  size_t control_index = 0;
  std::vector<int64_t> user_counts;
  std::vector<double> shares;
  for (size_t i = 0; i < variants.size(); ++i) {
    const VariantData& v = variants[i];
    absl::StatusOr<RatioEstimate> est = RatioOfMeans(v.users);
    if (!est.ok()) {
      return absl::Status(est.status().code(),
                          absl::StrCat("variant '", v.name, "': ", est.status().message()));
    }
    VariantSummary s;
    s.name = v.name;
    s.ranker = v.ranker;
    s.users = est->units;
    s.impressions = est->impressions;
    s.clicks = est->clicks;
    s.ctr = est->ratio;
    s.ctr_variance = est->variance;
    s.user_variance = est->unit_variance;
    // A CTR lies in [0, 1]; the normal interval can cross 0 with few clicks.
    s.ctr_ci = NormalCi(s.ctr, s.ctr_variance, confidence);
    s.ctr_ci = {std::max(0.0, s.ctr_ci.lo), std::min(1.0, s.ctr_ci.hi)};
    s.expected_share = v.expected_share;
    if (v.name == out.control) control_index = i;
    out.variants.push_back(std::move(s));
    user_counts.push_back(est->units);
    shares.push_back(v.expected_share);
  }
  const VariantSummary& c = out.variants[control_index];
  for (size_t i = 0; i < out.variants.size(); ++i) {
    if (i == control_index) continue;
    const VariantSummary& t = out.variants[i];
    Comparison cmp;
    cmp.variant = t.name;
    cmp.control = c.name;
    cmp.abs_lift = t.ctr - c.ctr;
    const double var = t.ctr_variance + c.ctr_variance;
    cmp.abs_lift_se = std::sqrt(var);
    cmp.abs_lift_ci = NormalCi(cmp.abs_lift, var, confidence);
    cmp.p_value = TwoSidedPValue(cmp.abs_lift, cmp.abs_lift_se);
    const Interval ratio = FiellerRatio(t.ctr, t.ctr_variance, c.ctr, c.ctr_variance, confidence);
    cmp.rel_lift = c.ctr > 0 ? t.ctr / c.ctr - 1 : kNan;
    cmp.rel_lift_ci = {ratio.lo - 1, ratio.hi - 1};
    cmp.mde_rel =
        c.ctr > 0 ? MinimumDetectableEffect(cmp.abs_lift_se, options.alpha, options.power) / c.ctr
                  : kNan;
    // Every comparison shares the control, so all are NaN or none is.
    out.mde_rel = out.comparisons.empty() ? cmp.mde_rel : std::max(out.mde_rel, cmp.mde_rel);
    out.comparisons.push_back(std::move(cmp));
  }
  absl::StatusOr<ChiSquareTest> srm = SampleRatioMismatch(user_counts, shares);
  if (!srm.ok()) return srm.status();
  out.srm_chi2 = srm->statistic;
  out.srm_p_value = srm->p_value;
  return out;
}

absl::StatusOr<MsprtPValue> MsprtPValue::Create(double tau2) {
  if (!(tau2 > 0) || !std::isfinite(tau2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("mSPRT mixing variance must be > 0, got ", tau2));
  }
  return MsprtPValue(tau2);
}

double MsprtPValue::Update(double estimate, double variance) {
  if (!(variance > 0)) return p_;
  const double v = variance, s = v + tau2_;
  // log Lambda, to keep exp() from overflowing on a large effect.
  const double log_lambda = 0.5 * std::log(v / s) + estimate * estimate * tau2_ / (2 * v * s);
  const double p = log_lambda > 0 ? std::exp(-log_lambda) : 1.0;
  if (p < p_) p_ = p;
  return p_;
}

}  // namespace recstack::stats
