#include "common/stats/intervals.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/stats/distributions.h"

namespace recstack::stats {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

absl::Status CheckBinomial(int64_t successes, int64_t trials, double confidence) {
  if (trials <= 0)
    return absl::InvalidArgumentError(absl::StrCat("trials must be > 0, got ", trials));
  if (successes < 0 || successes > trials) {
    return absl::InvalidArgumentError(
        absl::StrCat("successes must be in [0, trials=", trials, "], got ", successes));
  }
  if (!(confidence > 0 && confidence < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("confidence must be in (0, 1), got ", confidence));
  }
  return absl::OkStatus();
}

}  // namespace

double TwoSidedZ(double confidence) { return NormalQuantile(0.5 + 0.5 * confidence); }

absl::StatusOr<Interval> WilsonInterval(int64_t successes, int64_t trials, double confidence) {
  if (absl::Status s = CheckBinomial(successes, trials, confidence); !s.ok()) return s;
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z = TwoSidedZ(confidence), z2 = z * z;
  const double denom = 1 + z2 / n;
  const double center = (p + z2 / (2 * n)) / denom;
  const double half = z / denom * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return Interval{std::max(0.0, center - half), std::min(1.0, center + half)};
}

absl::StatusOr<Interval> NormalInterval(int64_t successes, int64_t trials, double confidence) {
  if (absl::Status s = CheckBinomial(successes, trials, confidence); !s.ok()) return s;
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double half = TwoSidedZ(confidence) * std::sqrt(p * (1 - p) / n);
  return Interval{std::max(0.0, p - half), std::min(1.0, p + half)};
}

absl::StatusOr<RatioEstimate> RatioOfMeans(std::span<const UnitCounts> units) {
  RatioEstimate est;
  est.units = static_cast<int64_t>(units.size());
  for (size_t i = 0; i < units.size(); ++i) {
    const UnitCounts& u = units[i];
    if (u.impressions < 0 || u.clicks < 0) {
      return absl::InvalidArgumentError(absl::StrCat("unit ", i, " has negative counts (",
                                                     u.impressions, " impressions, ", u.clicks,
                                                     " clicks)"));
    }
    if (u.clicks > u.impressions) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unit ", i, " has ", u.clicks, " clicks but only ", u.impressions, " impressions"));
    }
    est.impressions += u.impressions;
    est.clicks += u.clicks;
  }
  if (est.units < 2) {
    return absl::FailedPreconditionError(
        absl::StrCat("a ratio's variance needs at least 2 units, got ", est.units));
  }
  if (est.impressions == 0) return absl::FailedPreconditionError("no impressions");
  const double n = static_cast<double>(est.units);
  est.ratio = static_cast<double>(est.clicks) / static_cast<double>(est.impressions);
  const double mean_y = static_cast<double>(est.impressions) / n;
  // Two passes: residuals x_i - r y_i sum to 0 exactly in real arithmetic,
  // so their squares are summed directly rather than from raw moments.
  double ss = 0;
  for (const UnitCounts& u : units) {
    const double e = static_cast<double>(u.clicks) - est.ratio * static_cast<double>(u.impressions);
    ss += e * e;
  }
  est.unit_variance = ss / ((n - 1) * mean_y * mean_y);
  est.variance = est.unit_variance / n;
  return est;
}

Interval NormalCi(double estimate, double variance, double confidence) {
  const double half = TwoSidedZ(confidence) * std::sqrt(variance);
  return {estimate - half, estimate + half};
}

Interval FiellerRatio(double a, double va, double b, double vb, double confidence) {
  const double z = TwoSidedZ(confidence), z2 = z * z;
  // (b^2 - z^2 vb) t^2 - 2ab t + (a^2 - z^2 va) <= 0
  const double qa = b * b - z2 * vb;
  if (!(qa > 0)) return {-kInf, kInf};
  const double qb = a * b;
  const double qc = a * a - z2 * va;
  const double disc = qb * qb - qa * qc;  // = z^2 (va b^2 + vb a^2 - z^2 va vb) >= 0 when qa > 0
  const double root = std::sqrt(std::max(0.0, disc));
  return {(qb - root) / qa, (qb + root) / qa};
}

}  // namespace recstack::stats
