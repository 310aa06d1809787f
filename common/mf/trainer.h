#pragma once

// One training run, as the CLI and the training service both do it: fit,
// evaluate after every iteration on the held-out rows, stop early on a
// validation metric, report progress (and honour cancellation).

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/math/dense.h"
#include "common/mf/als.h"
#include "common/mf/dataset.h"
#include "common/mf/ease.h"
#include "common/mf/evaluate.h"
#include "common/mf/sgd.h"

namespace recstack::mf {

// How a model is fitted (the CLI's and the training API's --algorithm). Not
// what is stored and served: that is model::ModelKind
// (common/model/model_store.h), which also has the learned rankers and no
// SGD kind; training::StoredKind maps a fit to the kind it is published as.
enum class Algorithm { kImplicitAls, kExplicitAls, kEase, kSgdExplicit };

// "als-implicit" / "als-explicit" / "ease" / "sgd-explicit".
absl::StatusOr<Algorithm> ParseAlgorithmName(std::string_view name);
std::string AlgorithmName(Algorithm a);
// Fits ratings (r_ui ~ mu + b_u + b_i + x_u . y_i, rmse/mae): als-explicit
// and sgd-explicit.
bool IsExplicit(Algorithm a);

struct TrainConfig {
  Algorithm algorithm = Algorithm::kImplicitAls;
  AlsParams als;
  EaseParams ease;  // kEase only (its threads come from als.threads)
  // kSgdExplicit only; its factors, epochs (iterations), regularization and
  // seed come from als.
  SgdParams sgd;
  int k = 10;  // ranking metrics at k
  // Metric to stop on ("ndcg@10", "rmse", ...; lower is better for rmse/mae);
  // empty = run every iteration. The best iteration's factors are kept.
  std::string early_stopping_metric;
  int patience = 2;
  bool evaluate_each_iteration = true;  // else only after the last
  bool compute_loss = true;
  // Each evaluation also scores the training rows, as "train_"-prefixed
  // metrics: train_rmse / train_mae (explicit), or the ranking metrics with
  // the user's training items as the relevant set and nothing excluded
  // (train_ndcg@k, ...). For train-vs-test (overfitting) curves; costs time.
  bool train_metrics = false;

  absl::Status Validate() const;
};

struct IterationReport {
  int iteration = 0;
  double loss = 0;
  double seconds = 0;  // this iteration's fit time
  std::map<std::string, double> metrics;
};

struct TrainedModel {
  Algorithm algorithm = Algorithm::kImplicitAls;
  math::Matrix user_factors, item_factors;  // n_users x d, n_items x d
  std::vector<float> user_bias, item_bias;  // explicit (IsExplicit) only
  float global_mean = 0;
  // kEase: B, n_items x n_items (diagonal zero); scores are x_u B with x_u
  // binarized when ease_binarized.
  math::Matrix ease_weights;
  bool ease_binarized = true;
};

struct TrainResult {
  TrainedModel model;
  std::vector<IterationReport> history;
  std::map<std::string, double> metrics;  // of the kept (best or last) iteration
  int best_iteration = 0;
  bool cancelled = false;
  double fit_seconds = 0, eval_seconds = 0;
  // Where fit time went: implicit ALS's Gram matrices and row solves; EASE's
  // Gram and its inverse (gram_method "sparse" or "syrk").
  double gram_seconds = 0, solve_seconds = 0;
  std::string gram_method;
  int64_t n_users = 0, n_items = 0, n_train = 0, n_test = 0;
};

// `progress` is called after each iteration; returning false cancels (the
// result then has cancelled = true and the factors of the last iteration).
absl::StatusOr<TrainResult> Train(
    int32_t n_users, int32_t n_items, std::vector<Row> train, const std::vector<Row>& test,
    const TrainConfig& config,
    const std::function<bool(const IterationReport&)>& progress = nullptr);

// Scores of a trained ranking model (implicit ALS: u . v; EASE: x_u B over
// the user's rows of `train_by_user`) for EvaluateRankingWith; `threads`
// share the block's users.
BlockScorer ModelScorer(const TrainedModel& model, const math::CsrMatrix& train_by_user,
                        int threads);

// weight * z(a) + (1 - weight) * z(b), where z standardises one user's
// scores over all items (mean 0, variance 1) so models on different scales
// blend: weight 1 ranks as `a` alone, 0 as `b` alone.
BlockScorer BlendScorer(BlockScorer a, BlockScorer b, double weight, int64_t n_items);

}  // namespace recstack::mf
