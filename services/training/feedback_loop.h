#pragma once

// What the training service does with the feedback log (issue 13,
// docs/rankers.md, docs/experiments.md), without I/O: learn a ranker from
// logged impressions and their clicks, estimate a ranker's CTR off-policy,
// and read out an experiment. Each takes a FeedbackView (a copy of the log)
// so it can be tested on logs built in memory.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/mf/trainer.h"
#include "common/ml/gbdt.h"
#include "common/ml/logistic.h"
#include "common/rank/experiments.h"
#include "common/rank/learned.h"
#include "common/rank/rankers.h"
#include "common/stats/experiment.h"
#include "common/stats/off_policy.h"
#include "services/training/feedback_log.h"

namespace recstack::training {

inline constexpr int64_t kDefaultWindowMs = 24LL * 3600 * 1000;
inline constexpr int64_t kDefaultAttributionMs = 30LL * 60 * 1000;

// How a learned ranker copes with position bias (docs/rankers.md):
//   kFeature  the shown position is a column; serving sets it to the top
//             (kServingPosition), so every candidate is scored as if shown
//             first and the position's own effect drops out of the order.
//   kIps      no position column; each click is weighted by 1 / theta_p,
//             theta_p = CTR at position p / CTR at the top, estimated on
//             the randomly ordered (explored) requests.
enum class PositionMode { kFeature, kIps };

struct RankerJobSpec {
  ranking::LearnedKind kind = ranking::LearnedKind::kGbdt;
  int64_t window_ms = kDefaultWindowMs;
  int64_t attribution_ms = kDefaultAttributionMs;
  double holdout = 0.2;  // newest share of requests, for evaluation
  PositionMode position = PositionMode::kFeature;
  ml::LogisticParams logistic;
  // Depth 4, not XGBoost's 6: the served items' TreeSHAP explanations cost
  // O(trees x leaves x depth^2) per item, about 2x less at depth 4 on these
  // ten features, at no measured loss (docs/rankers.md).
  ml::GbdtParams gbdt = {.max_depth = 4};
  bool publish = true;
  // A feature blanked (NaN) in a share of the impressions, chosen by a hash
  // of (request, item, seed): what a partly failing feature feed leaves
  // behind, to see what the learners' missing-value handling does with it.
  // mask_feature empty = none; mask_rate in [0, 1].
  std::string mask_feature;
  double mask_rate = 0;
  uint64_t mask_seed = 1;
  // INVALID_ARGUMENT naming the bad knob.
  absl::Status Validate() const;
};

struct RankerTrainOutput {
  std::string blob;  // the serialized model (RankerModel::FromBytes reads it)
  int64_t rows = 0, positives = 0;
  int64_t train_rows = 0, valid_rows = 0, requests = 0;
  // On the held-out tail: auc, logloss (with the logged positions), ndcg@10
  // (each request's shown items ordered as serving would, position at the
  // top, against the clicks of the explored, randomly ordered, requests when
  // at least 20 of them have a click; ndcg@10_logged on every held-out
  // request); `baseline` the same for the `linear` ranker, its logloss after
  // Platt scaling fitted on the training rows.
  std::map<std::string, double> metrics, baseline;
  std::vector<mf::IterationReport> history;  // per epoch (logistic) or round (gbdt)
  std::vector<double> examination;           // kIps: theta_p per position
};

// FAILED_PRECONDITION when the window holds too little to learn from (no
// clicks, or no held-out request with a click); `cancelled` is polled.
absl::StatusOr<RankerTrainOutput> TrainRanker(const FeedbackView& view, const RankerJobSpec& spec,
                                              const std::function<bool()>& cancelled = nullptr);

// theta_p = CTR(p) / CTR(0) over the explored impressions (clamped to
// [0.01, 1]); FAILED_PRECONDITION without enough explored clicks at the top.
absl::StatusOr<std::vector<double>> ExaminationByPosition(const FeedbackView& view,
                                                          const std::vector<uint8_t>& labels);

struct OffPolicyResult {
  stats::OffPolicyEstimate ips, snips;
  int64_t requests = 0, impressions = 0, clicks = 0;
  double logged_ctr = 0;
  double explored_share = 0;  // of the requests used
};

// The target ranker's CTR had it ordered each logged request's shown items
// (docs/experiments.md): an action is (item, position); the target takes it
// when it would put the item there; the logging propensity is the logged
// one. FAILED_PRECONDITION with fewer than 2 usable impressions.
absl::StatusOr<OffPolicyResult> EvaluateOffPolicy(const FeedbackView& view,
                                                  const ranking::Ranker& target,
                                                  int64_t attribution_ms, double confidence);

// The readout of `experiment` (users as the unit: each user's impressions
// and clicks in its variant). NOT_FOUND when no impression names it.
absl::StatusOr<stats::Readout> ReportExperiment(const FeedbackView& view,
                                                const ranking::Experiment& experiment,
                                                const std::string& control, int64_t attribution_ms);

}  // namespace recstack::training
