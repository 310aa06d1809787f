#pragma once

// Off-policy estimates of a target ranker's CTR from logged impressions
// (docs/experiments.md). Each record is one logged action (an item shown at
// a position): the logging policy's probability of having shown it, the
// target policy's probability of showing it in the same context, and the
// reward (click = 1). With w = target / logging:
//   IPS   = (1/n) sum w_i r_i, unbiased when logging > 0 wherever target > 0;
//           variance = sample variance of w_i r_i / n.
//   SNIPS = sum w_i r_i / sum w_i, a ratio of means: biased O(1/n) but far
//           lower variance; delta-method variance
//           sum w_i^2 (r_i - SNIPS)^2 / (n (n - 1) mean(w)^2).
// (Horvitz & Thompson 1952; Swaminathan & Joachims, "The Self-Normalized
// Estimator for Counterfactual Learning", NeurIPS 2015.)

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "common/stats/intervals.h"

namespace recstack::stats {

struct LoggedAction {
  double logging_propensity = 1;  // in (0, 1]
  double target_probability = 0;  // in [0, 1]
  double reward = 0;              // click: 0 or 1 (any value in [0, 1] is accepted)
};

struct OffPolicyEstimate {
  double estimate = 0;
  double variance = 0;
  Interval ci;
  int64_t records = 0;
  // (sum w)^2 / sum w^2: how many on-policy records the weights are worth.
  double effective_sample_size = 0;
  double max_weight = 0;
};

// InvalidArgument for fewer than 2 records or a record outside the ranges
// above (naming its index); FailedPrecondition for SNIPS when every weight
// is 0 (the target never takes a logged action).
absl::StatusOr<OffPolicyEstimate> InversePropensityEstimate(std::span<const LoggedAction> log,
                                                            double confidence = 0.95);
absl::StatusOr<OffPolicyEstimate> SelfNormalizedEstimate(std::span<const LoggedAction> log,
                                                         double confidence = 0.95);

}  // namespace recstack::stats
