#include "common/stats/off_policy.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace recstack::stats {
namespace {

// Validates the log and fills the weight statistics.
absl::Status CheckLog(std::span<const LoggedAction> log, double confidence,
                      OffPolicyEstimate* out) {
  if (log.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("an off-policy estimate needs at least 2 logged records, got ", log.size()));
  }
  if (!(confidence > 0 && confidence < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("confidence must be in (0, 1), got ", confidence));
  }
  double sw = 0, sw2 = 0;
  for (size_t i = 0; i < log.size(); ++i) {
    const LoggedAction& a = log[i];
    if (!(a.logging_propensity > 0 && a.logging_propensity <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "record ", i, ": logging propensity must be in (0, 1], got ", a.logging_propensity));
    }
    if (!(a.target_probability >= 0 && a.target_probability <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "record ", i, ": target probability must be in [0, 1], got ", a.target_probability));
    }
    if (!(a.reward >= 0 && a.reward <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("record ", i, ": reward must be in [0, 1], got ", a.reward));
    }
    const double w = a.target_probability / a.logging_propensity;
    sw += w;
    sw2 += w * w;
    out->max_weight = std::max(out->max_weight, w);
  }
  out->records = static_cast<int64_t>(log.size());
  out->effective_sample_size = sw2 > 0 ? sw * sw / sw2 : 0;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OffPolicyEstimate> InversePropensityEstimate(std::span<const LoggedAction> log,
                                                            double confidence) {
  OffPolicyEstimate out;
  if (absl::Status s = CheckLog(log, confidence, &out); !s.ok()) return s;
  const double n = static_cast<double>(log.size());
  double sum = 0;
  for (const LoggedAction& a : log) sum += a.target_probability / a.logging_propensity * a.reward;
  out.estimate = sum / n;
  double ss = 0;
  for (const LoggedAction& a : log) {
    const double e = a.target_probability / a.logging_propensity * a.reward - out.estimate;
    ss += e * e;
  }
  out.variance = ss / ((n - 1) * n);
  out.ci = NormalCi(out.estimate, out.variance, confidence);
  return out;
}

absl::StatusOr<OffPolicyEstimate> SelfNormalizedEstimate(std::span<const LoggedAction> log,
                                                         double confidence) {
  OffPolicyEstimate out;
  if (absl::Status s = CheckLog(log, confidence, &out); !s.ok()) return s;
  const double n = static_cast<double>(log.size());
  double sw = 0, swr = 0;
  for (const LoggedAction& a : log) {
    const double w = a.target_probability / a.logging_propensity;
    sw += w;
    swr += w * a.reward;
  }
  if (!(sw > 0)) {
    return absl::FailedPreconditionError(
        "every importance weight is 0: the target policy never takes a logged action");
  }
  out.estimate = swr / sw;
  const double mean_w = sw / n;
  double ss = 0;
  for (const LoggedAction& a : log) {
    const double e = a.target_probability / a.logging_propensity * (a.reward - out.estimate);
    ss += e * e;
  }
  out.variance = ss / ((n - 1) * n * mean_w * mean_w);
  out.ci = NormalCi(out.estimate, out.variance, confidence);
  return out;
}

}  // namespace recstack::stats
