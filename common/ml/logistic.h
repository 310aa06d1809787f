#pragma once

// `logistic`: logistic regression written out, to show what a library hides
// (issue 13). Mini-batch gradient descent on the weighted mean log loss plus
// (l2 / 2) * |w|^2 (the bias is not regularized), with one of three update
// rules (Ruder, "An overview of gradient descent optimization algorithms",
// 2016):
//   sgd       w -= lr * g
//   momentum  v = beta * v + g;  w -= lr * v            (heavy ball)
//   adam      m = b1 m + (1-b1) g;  s = b2 s + (1-b2) g^2;
//             w -= lr * (m / (1-b1^t)) / (sqrt(s / (1-b2^t)) + eps)   (Kingma & Ba 2015)
//
// Preprocessing, fitted on the training set and stored in the model so
// serving applies exactly what training did:
//   standardization  z = (x - mean) / std per feature (std 1 if constant);
//                    off: z = x.
//   missing values   (NaN) kImputeWithIndicator: x := training mean (z = 0)
//                    and, for each feature that had a missing value in
//                    training, an extra 0/1 column "is missing" with its own
//                    weight. kDropRows: training rows with any NaN are
//                    dropped; at serving a NaN is still imputed (z = 0),
//                    without an indicator.
// Contributions: feature j contributes w_j * z_j + w_ind_j * missing_j (its
// indicator folded in), so bias + sum = the margin (log-odds).

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

enum class Optimizer { kSgd, kMomentum, kAdam };
std::string_view OptimizerName(Optimizer optimizer);              // "sgd" | "momentum" | "adam"
absl::StatusOr<Optimizer> ParseOptimizer(std::string_view name);  // INVALID_ARGUMENT otherwise

enum class MissingPolicy { kImputeWithIndicator, kDropRows };
std::string_view MissingPolicyName(MissingPolicy policy);  // "impute" | "drop"
absl::StatusOr<MissingPolicy> ParseMissingPolicy(std::string_view name);

struct LogisticParams {
  Optimizer optimizer = Optimizer::kAdam;
  double learning_rate = 0.05;  // > 0
  int batch_size = 256;         // >= 1; a batch of >= rows is full-batch gradient descent
  int epochs = 20;              // >= 1
  double momentum = 0.9;        // momentum's beta, [0, 1)
  double adam_beta1 = 0.9;      // [0, 1)
  double adam_beta2 = 0.999;    // [0, 1)
  double adam_eps = 1e-8;       // > 0
  double l2 = 1e-4;             // >= 0, on the weights (not the bias)
  bool standardize = true;
  MissingPolicy missing = MissingPolicy::kImputeWithIndicator;
  uint64_t seed = 1;  // the per-epoch shuffles

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

// One epoch's losses (plain weighted log loss, without the L2 term) after
// the epoch's updates. valid_logloss is NaN without a validation set.
struct EpochLoss {
  int epoch = 0;  // 1-based
  double train_logloss = 0;
  double valid_logloss = 0;
};

class LogisticModel {
 public:
  static constexpr std::string_view kMagic = "RSLR";
  static constexpr uint32_t kFormatVersion = 1;

  // P(click) for one row of dims() raw features (NaN = missing).
  absl::StatusOr<double> Predict(std::span<const float> x) const;
  // n rows of dims() features, row-major (n * dims() values).
  absl::StatusOr<std::vector<double>> PredictBatch(std::span<const float> x) const;
  absl::StatusOr<Explanation> Explain(std::span<const float> x) const;

  std::string Serialize() const;
  // INVALID_ARGUMENT on a truncated, corrupt or foreign record.
  static absl::StatusOr<LogisticModel> Parse(std::string_view bytes);

  size_t dims() const { return feature_names_.size(); }
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  // Per original feature: the fitted preprocessing and weights.
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& scale() const { return scale_; }
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<uint8_t>& has_indicator() const { return has_indicator_; }
  const std::vector<double>& indicator_weights() const { return indicator_weights_; }
  double bias() const { return bias_; }
  // The weights and bias in raw feature units (w_j / std_j, bias folded),
  // for comparison with planted coefficients; indicators excluded.
  std::vector<double> RawWeights() const;
  double RawBias() const;

 private:
  friend class LogisticTrainer;
  absl::Status CheckWidth(size_t values) const;
  double Margin(std::span<const float> x, std::vector<double>* contributions) const;

  std::vector<std::string> feature_names_;
  std::vector<double> mean_;               // d; 0 when not standardized
  std::vector<double> scale_;              // d; std (or 1)
  std::vector<double> impute_;             // d; the training mean, used for NaN
  std::vector<uint8_t> has_indicator_;     // d
  std::vector<double> weights_;            // d, on standardized values
  std::vector<double> indicator_weights_;  // d; 0 where no indicator
  double bias_ = 0;
};

struct LogisticTrainResult {
  LogisticModel model;
  std::vector<EpochLoss> history;  // one per epoch
  size_t rows_used = 0;            // training rows after dropping (kDropRows)
};

// Trains on `train`; `valid` (optional, same feature names) is only scored.
// Both sets are validated (INVALID_ARGUMENT naming the set, row and feature).
absl::StatusOr<LogisticTrainResult> TrainLogistic(const LogisticParams& params,
                                                  const Dataset& train,
                                                  const Dataset* valid = nullptr);

}  // namespace recstack::ml
