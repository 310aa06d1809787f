#pragma once

// `gbdt`: gradient-boosted trees through XGBoost's C API (Debian's
// libxgboost 1.7; Chen & Guestrin, KDD 2016). Objectives:
//   rank:ndcg        LambdaMART on NDCG, groups = request ids (rows of one
//                    request contiguous); Predict returns the margin.
//   binary:logistic  P(click); Predict returns the probability.
// Trees are grown with tree_method=hist; NaN is XGBoost's missing value
// (each split learns a default direction for it). Explanations are exact
// TreeSHAP values (Lundberg et al., 2020): contributions[j] per feature plus
// a bias (the expected margin), summing to the margin.
//
// Prediction is thread-safe (XGBoost >= 1.4 for gbtree boosters); with
// nthread = 1 each call runs on the caller's thread.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ml/dataset.h"

namespace recstack::ml {

enum class GbdtObjective { kRankNdcg, kBinaryLogistic };
std::string_view GbdtObjectiveName(GbdtObjective objective);  // "rank:ndcg" | "binary:logistic"
absl::StatusOr<GbdtObjective> ParseGbdtObjective(std::string_view name);

struct GbdtParams {
  GbdtObjective objective = GbdtObjective::kBinaryLogistic;
  int rounds = 100;             // boosting rounds (trees), 1..100000
  int max_depth = 6;            // 1..32
  double eta = 0.3;             // learning rate, (0, 1]
  double min_child_weight = 1;  // >= 0, minimum hessian sum in a leaf
  double subsample = 1;         // (0, 1], rows sampled per tree
  uint64_t seed = 0;            // subsampling
  int nthread = 1;              // 1..256; 1 = deterministic and on the caller's thread

  absl::Status Validate() const;  // INVALID_ARGUMENT naming the first bad field
};

// One boosting round's evaluation: `metric` is logloss for binary:logistic,
// ndcg@10 for rank:ndcg (XGBoost's own evaluation, groups without a click
// count as NDCG 1). valid_metric is NaN without a validation set.
struct GbdtRound {
  int round = 0;  // 1-based
  double train_metric = 0;
  double valid_metric = 0;
};

class GbdtModel {
 public:
  static constexpr std::string_view kMagic = "RSGB";
  static constexpr uint32_t kFormatVersion = 1;

  GbdtModel(GbdtModel&&) noexcept = default;
  GbdtModel& operator=(GbdtModel&&) noexcept = default;
  ~GbdtModel();

  // Scores of n rows of dims() features, row-major (n * dims() values).
  absl::StatusOr<std::vector<double>> PredictBatch(std::span<const float> x) const;
  absl::StatusOr<double> Predict(std::span<const float> x) const;
  // Raw margins (log-odds for binary:logistic; equal to the score for rank).
  absl::StatusOr<std::vector<double>> MarginBatch(std::span<const float> x) const;
  absl::StatusOr<std::vector<Explanation>> ExplainBatch(std::span<const float> x) const;
  absl::StatusOr<Explanation> Explain(std::span<const float> x) const;

  // Our header + XGBoost's UBJSON model, sealed (envelope.h).
  absl::StatusOr<std::string> Serialize() const;
  // INVALID_ARGUMENT on a truncated, corrupt or foreign record.
  static absl::StatusOr<GbdtModel> Parse(std::string_view bytes);

  GbdtObjective objective() const { return objective_; }
  size_t dims() const { return feature_names_.size(); }
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  int rounds() const;

 private:
  friend class GbdtTrainer;
  struct BoosterFree {
    void operator()(void* handle) const;
  };
  using Booster = std::unique_ptr<void, BoosterFree>;
  GbdtModel(Booster booster, GbdtObjective objective, std::vector<std::string> names);
  // XGBoost's output of `type` (0 value, 1 margin, 2 contributions).
  absl::StatusOr<std::vector<float>> Run(std::span<const float> x, int type, size_t* rows) const;

  Booster booster_;
  GbdtObjective objective_;
  std::vector<std::string> feature_names_;
};

struct GbdtTrainResult {
  GbdtModel model;
  std::vector<GbdtRound> history;  // one per round
  std::string metric;              // "logloss" | "ndcg@10"
};

// Trains on `train`; `valid` (optional, same feature names) is only
// evaluated. rank:ndcg needs group ids with each group's rows contiguous,
// and weights (if any) equal within a group (XGBoost weighs whole groups).
absl::StatusOr<GbdtTrainResult> TrainGbdt(const GbdtParams& params, const Dataset& train,
                                          const Dataset* valid = nullptr);

}  // namespace recstack::ml
