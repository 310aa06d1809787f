#pragma once

// Confidence intervals for proportions and for ratios of clustered counts.
//
// A CTR computed over impressions is a ratio of means when users, not
// impressions, are the independent units: clicks of one user are
// correlated, so the binomial variance p(1-p)/impressions understates the
// error. RatioOfMeans() uses the delta method over per-user
// (clicks, impressions) pairs instead (Deng, Knoblich & Lu, "Applying the
// Delta Method in Metric Analytics", KDD 2018).

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"

namespace recstack::stats {

// A two-sided interval. Bounds may be +-infinity where the method gives an
// unbounded set (Fieller with a control indistinguishable from 0).
struct Interval {
  double lo = 0, hi = 0;
};

// z such that P(|Z| <= z) = confidence: 1.959964 for 0.95.
double TwoSidedZ(double confidence);

// Binomial proportion intervals for unclustered data (independent trials):
// Wilson score interval and the normal (Wald) interval p +- z sqrt(p(1-p)/n),
// the latter clipped to [0, 1]. InvalidArgument unless trials > 0,
// 0 <= successes <= trials and 0 < confidence < 1.
absl::StatusOr<Interval> WilsonInterval(int64_t successes, int64_t trials,
                                        double confidence = 0.95);
absl::StatusOr<Interval> NormalInterval(int64_t successes, int64_t trials,
                                        double confidence = 0.95);

// One unit of randomization's counts, e.g. a user's impressions and clicks.
struct UnitCounts {
  int64_t impressions = 0;
  int64_t clicks = 0;
};

// sum(clicks) / sum(impressions) over units, with its delta-method variance.
//   r = X/Y (X, Y the means of clicks and impressions over n units)
//   Var(r) ~= sum_i (x_i - r y_i)^2 / (n (n - 1) Y^2)
// `unit_variance` = sum_i (x_i - r y_i)^2 / ((n - 1) Y^2) is the variance of
// one unit's linearized contribution, so variance = unit_variance / n; the
// power and sample-size functions take it as the per-user variance.
struct RatioEstimate {
  int64_t units = 0;
  int64_t impressions = 0;
  int64_t clicks = 0;
  double ratio = 0;          // clicks / impressions
  double variance = 0;       // of `ratio`, delta method
  double unit_variance = 0;  // variance * units
};

// InvalidArgument for negative counts or clicks > impressions (naming the
// unit's index); FailedPrecondition with fewer than 2 units or no
// impressions (no ratio or no variance to estimate yet).
absl::StatusOr<RatioEstimate> RatioOfMeans(std::span<const UnitCounts> units);

// ratio +- z sqrt(variance).
Interval NormalCi(double estimate, double variance, double confidence = 0.95);

// Fieller's interval for a / b where a and b are independent normal
// estimates with variances va, vb: {t : (a - t b)^2 <= z^2 (va + t^2 vb)}.
// Bounded when b^2 > z^2 vb (b significantly non-zero); otherwise the set
// is unbounded and {-inf, +inf} is returned. Unlike the delta method it
// respects the skew of a ratio, and it excludes 1 exactly when the z-test
// of a - b rejects at the same level.
Interval FiellerRatio(double a, double va, double b, double vb, double confidence = 0.95);

}  // namespace recstack::stats
