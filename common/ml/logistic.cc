#include "common/ml/logistic.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/math/rng.h"
#include "common/ml/av.h"
#include "common/ml/envelope.h"
#include "common/ml/metrics.h"

namespace recstack::ml {

namespace {

double Sigmoid(double m) {
  if (m >= 0) return 1.0 / (1.0 + std::exp(-m));
  const double e = std::exp(m);
  return e / (1.0 + e);
}

absl::Status Bad(std::string_view field, std::string_view rule, double value) {
  return absl::InvalidArgumentError(
      absl::StrCat("logistic params: ", Av(field), " must be ", Av(rule), " (got ", value, ")"));
}

bool RowHasMissing(std::span<const float> row) {
  return std::any_of(row.begin(), row.end(), [](float v) { return std::isnan(v); });
}

}  // namespace

std::string_view OptimizerName(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::kSgd:
      return "sgd";
    case Optimizer::kMomentum:
      return "momentum";
    case Optimizer::kAdam:
      return "adam";
  }
  return "?";
}

absl::StatusOr<Optimizer> ParseOptimizer(std::string_view name) {
  for (Optimizer o : {Optimizer::kSgd, Optimizer::kMomentum, Optimizer::kAdam}) {
    if (name == OptimizerName(o)) return o;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown optimizer '", Av(name), "' (known: sgd, momentum, adam)"));
}

std::string_view MissingPolicyName(MissingPolicy policy) {
  return policy == MissingPolicy::kDropRows ? "drop" : "impute";
}

absl::StatusOr<MissingPolicy> ParseMissingPolicy(std::string_view name) {
  if (name == "impute") return MissingPolicy::kImputeWithIndicator;
  if (name == "drop") return MissingPolicy::kDropRows;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown missing-value policy '", Av(name), "' (known: impute, drop)"));
}

absl::Status LogisticParams::Validate() const {
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) {
    return Bad("learning_rate", "> 0 and finite", learning_rate);
  }
  if (batch_size < 1) return Bad("batch_size", ">= 1", batch_size);
  if (epochs < 1) return Bad("epochs", ">= 1", epochs);
  if (!(momentum >= 0 && momentum < 1)) return Bad("momentum", "in [0, 1)", momentum);
  if (!(adam_beta1 >= 0 && adam_beta1 < 1)) return Bad("adam_beta1", "in [0, 1)", adam_beta1);
  if (!(adam_beta2 >= 0 && adam_beta2 < 1)) return Bad("adam_beta2", "in [0, 1)", adam_beta2);
  if (!(adam_eps > 0) || !std::isfinite(adam_eps)) return Bad("adam_eps", "> 0", adam_eps);
  if (!(l2 >= 0) || !std::isfinite(l2)) return Bad("l2", ">= 0 and finite", l2);
  return absl::OkStatus();
}

// ---- LogisticModel ----

absl::Status LogisticModel::CheckWidth(size_t values) const {
  if (values != dims()) {
    return absl::InvalidArgumentError(absl::StrCat("logistic model: row has ", values,
                                                   " features, the model was trained on ", dims()));
  }
  return absl::OkStatus();
}

double LogisticModel::Margin(std::span<const float> x, std::vector<double>* contributions) const {
  double margin = bias_;
  for (size_t j = 0; j < dims(); ++j) {
    const bool missing = std::isnan(x[j]);
    const double value = missing ? impute_[j] : x[j];
    double c = weights_[j] * (value - mean_[j]) / scale_[j];
    if (missing && has_indicator_[j]) c += indicator_weights_[j];
    margin += c;
    if (contributions != nullptr) (*contributions)[j] = c;
  }
  return margin;
}

absl::StatusOr<double> LogisticModel::Predict(std::span<const float> x) const {
  if (auto s = CheckWidth(x.size()); !s.ok()) return s;
  return Sigmoid(Margin(x, nullptr));
}

absl::StatusOr<std::vector<double>> LogisticModel::PredictBatch(std::span<const float> x) const {
  if (dims() == 0 || x.size() % dims() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("logistic model: ", x.size(), " values are not whole rows of ", dims()));
  }
  const size_t n = x.size() / dims();
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = Sigmoid(Margin(x.subspan(i * dims(), dims()), nullptr));
  return out;
}

absl::StatusOr<Explanation> LogisticModel::Explain(std::span<const float> x) const {
  if (auto s = CheckWidth(x.size()); !s.ok()) return s;
  Explanation e;
  e.contributions.resize(dims());
  e.bias = bias_;
  e.margin = Margin(x, &e.contributions);
  e.score = Sigmoid(e.margin);
  return e;
}

std::vector<double> LogisticModel::RawWeights() const {
  std::vector<double> raw(dims());
  for (size_t j = 0; j < dims(); ++j) raw[j] = weights_[j] / scale_[j];
  return raw;
}

double LogisticModel::RawBias() const {
  double b = bias_;
  for (size_t j = 0; j < dims(); ++j) b -= weights_[j] * mean_[j] / scale_[j];
  return b;
}

// Payload (format version 1):
//   uint32 d
//   d x { str name; f64 mean, scale, impute; u8 has_indicator; f64 weight, indicator_weight }
//   f64 bias
std::string LogisticModel::Serialize() const {
  ByteWriter w;
  w.U32(static_cast<uint32_t>(dims()));
  for (size_t j = 0; j < dims(); ++j) {
    w.Str(feature_names_[j]);
    w.F64(mean_[j]);
    w.F64(scale_[j]);
    w.F64(impute_[j]);
    w.U8(has_indicator_[j]);
    w.F64(weights_[j]);
    w.F64(indicator_weights_[j]);
  }
  w.F64(bias_);
  return Seal(kMagic, kFormatVersion, w.out());
}

absl::StatusOr<LogisticModel> LogisticModel::Parse(std::string_view bytes) {
  constexpr std::string_view kWhat = "logistic model";
  auto payload = Unseal(bytes, kMagic, kFormatVersion, kWhat);
  if (!payload.ok()) return payload.status();
  ByteReader r(*payload, kWhat);
  auto d = r.U32();
  if (!d.ok()) return d.status();
  // Each feature takes at least 4 + 5 * 8 + 1 bytes: a huge d is corrupt,
  // refuse it before reserving memory for it.
  if (*d == 0 || *d > r.remaining() / 45) {
    return absl::InvalidArgumentError(absl::StrCat(Av(kWhat), ": implausible feature count ", *d));
  }
  LogisticModel m;
  std::unordered_set<std::string> names;
  auto finite = [&](absl::StatusOr<double> v, std::string_view field, double* out) -> absl::Status {
    if (!v.ok()) return v.status();
    if (!std::isfinite(*v)) {
      return absl::InvalidArgumentError(absl::StrCat(Av(kWhat), ": ", Av(field), " is not finite"));
    }
    *out = *v;
    return absl::OkStatus();
  };
  for (uint32_t j = 0; j < *d; ++j) {
    auto name = r.Str();
    if (!name.ok()) return name.status();
    if (name->empty() || !names.emplace(*name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Av(kWhat), ": empty or duplicate feature name '", Av(*name), "'"));
    }
    m.feature_names_.emplace_back(*name);
    double mean = 0, scale = 1, impute = 0, weight = 0, indicator_weight = 0;
    if (auto s = finite(r.F64(), "mean", &mean); !s.ok()) return s;
    if (auto s = finite(r.F64(), "scale", &scale); !s.ok()) return s;
    if (!(scale > 0)) return absl::InvalidArgumentError(absl::StrCat(Av(kWhat), ": scale <= 0"));
    if (auto s = finite(r.F64(), "impute", &impute); !s.ok()) return s;
    auto has_indicator = r.U8();
    if (!has_indicator.ok()) return has_indicator.status();
    if (*has_indicator > 1) {
      return absl::InvalidArgumentError(absl::StrCat(Av(kWhat), ": bad indicator flag"));
    }
    if (auto s = finite(r.F64(), "weight", &weight); !s.ok()) return s;
    if (auto s = finite(r.F64(), "indicator weight", &indicator_weight); !s.ok()) return s;
    m.mean_.push_back(mean);
    m.scale_.push_back(scale);
    m.impute_.push_back(impute);
    m.has_indicator_.push_back(*has_indicator);
    m.weights_.push_back(weight);
    m.indicator_weights_.push_back(indicator_weight);
  }
  if (auto s = finite(r.F64(), "bias", &m.bias_); !s.ok()) return s;
  if (auto s = r.ExpectEnd(); !s.ok()) return s;
  return m;
}

// ---- Training ----

class LogisticTrainer {
 public:
  static absl::StatusOr<LogisticTrainResult> Run(const LogisticParams& params, const Dataset& train,
                                                 const Dataset* valid);
};

absl::StatusOr<LogisticTrainResult> LogisticTrainer::Run(const LogisticParams& params,
                                                         const Dataset& train,
                                                         const Dataset* valid) {
  if (auto s = params.Validate(); !s.ok()) return s;
  if (auto s = ValidateDataset(train, "train set"); !s.ok()) return s;
  if (valid != nullptr) {
    if (auto s = ValidateDataset(*valid, "validation set"); !s.ok()) return s;
    if (valid->feature_names != train.feature_names) {
      return absl::InvalidArgumentError(
          "validation set: feature names differ from the train set's (same columns, same order)");
    }
  }
  const size_t d = train.dims();

  // Rows trained on.
  std::vector<size_t> used;
  used.reserve(train.rows());
  for (size_t i = 0; i < train.rows(); ++i) {
    if (params.missing == MissingPolicy::kDropRows && RowHasMissing(train.Row(i))) continue;
    used.push_back(i);
  }
  if (used.empty()) {
    return absl::InvalidArgumentError(
        "train set: every row has a missing value, none is left with missing=drop");
  }

  // Preprocessing statistics over the observed values of the used rows.
  LogisticTrainResult result;
  LogisticModel& model = result.model;
  model.feature_names_ = train.feature_names;
  model.mean_.assign(d, 0.0);
  model.scale_.assign(d, 1.0);
  model.impute_.assign(d, 0.0);
  model.has_indicator_.assign(d, 0);
  model.weights_.assign(d, 0.0);
  model.indicator_weights_.assign(d, 0.0);
  for (size_t j = 0; j < d; ++j) {
    double sum = 0, sum_sq = 0;
    size_t observed = 0;
    for (size_t i : used) {
      const float v = train.features[i * d + j];
      if (std::isnan(v)) continue;
      sum += v;
      ++observed;
    }
    const double mean = observed > 0 ? sum / static_cast<double>(observed) : 0.0;
    for (size_t i : used) {
      const float v = train.features[i * d + j];
      if (!std::isnan(v)) sum_sq += (v - mean) * (v - mean);
    }
    const double std_dev = observed > 0 ? std::sqrt(sum_sq / static_cast<double>(observed)) : 0;
    model.impute_[j] = mean;
    if (params.standardize) {
      model.mean_[j] = mean;
      model.scale_[j] = std_dev > 1e-12 ? std_dev : 1.0;
    }
    model.has_indicator_[j] =
        params.missing == MissingPolicy::kImputeWithIndicator && observed < used.size();
  }

  // The design matrix: d transformed columns, then one per indicator.
  std::vector<size_t> indicator_col(d, 0);
  size_t cols = d;
  for (size_t j = 0; j < d; ++j) {
    if (model.has_indicator_[j]) indicator_col[j] = cols++;
  }
  const size_t n = used.size();
  std::vector<double> z(n * cols, 0.0);
  std::vector<double> y(n), w(n);
  for (size_t r = 0; r < n; ++r) {
    const size_t i = used[r];
    for (size_t j = 0; j < d; ++j) {
      const float v = train.features[i * d + j];
      const bool missing = std::isnan(v);
      const double value = missing ? model.impute_[j] : v;
      z[r * cols + j] = (value - model.mean_[j]) / model.scale_[j];
      if (model.has_indicator_[j]) z[r * cols + indicator_col[j]] = missing ? 1.0 : 0.0;
    }
    y[r] = train.labels[i];
    w[r] = train.Weight(i);
  }

  // Parameters: cols weights then the bias; optimizer state alongside.
  const size_t p = cols + 1;
  std::vector<double> theta(p, 0.0), grad(p), velocity(p, 0.0), m1(p, 0.0), m2(p, 0.0);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  math::Rng rng(params.seed);
  const size_t batch = std::min(static_cast<size_t>(params.batch_size), n);
  int64_t step = 0;

  auto copy_out = [&] {
    for (size_t j = 0; j < d; ++j) {
      model.weights_[j] = theta[j];
      model.indicator_weights_[j] = model.has_indicator_[j] ? theta[indicator_col[j]] : 0.0;
    }
    model.bias_ = theta[cols];
  };

  std::vector<float> train_labels(n), train_weights(n);
  for (size_t r = 0; r < n; ++r) {
    train_labels[r] = static_cast<float>(y[r]);
    train_weights[r] = static_cast<float>(w[r]);
  }
  std::vector<double> probs(n);

  for (int epoch = 1; epoch <= params.epochs; ++epoch) {
    for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
    for (size_t begin = 0; begin < n; begin += batch) {
      const size_t end = std::min(begin + batch, n);
      std::fill(grad.begin(), grad.end(), 0.0);
      double batch_weight = 0;
      for (size_t k = begin; k < end; ++k) {
        const size_t r = order[k];
        const double* zr = &z[r * cols];
        double margin = theta[cols];
        for (size_t c = 0; c < cols; ++c) margin += theta[c] * zr[c];
        const double e = w[r] * (Sigmoid(margin) - y[r]);
        for (size_t c = 0; c < cols; ++c) grad[c] += e * zr[c];
        grad[cols] += e;
        batch_weight += w[r];
      }
      if (batch_weight <= 0) continue;
      for (size_t c = 0; c < p; ++c) grad[c] /= batch_weight;
      for (size_t c = 0; c < cols; ++c) grad[c] += params.l2 * theta[c];
      ++step;
      switch (params.optimizer) {
        case Optimizer::kSgd:
          for (size_t c = 0; c < p; ++c) theta[c] -= params.learning_rate * grad[c];
          break;
        case Optimizer::kMomentum:
          for (size_t c = 0; c < p; ++c) {
            velocity[c] = params.momentum * velocity[c] + grad[c];
            theta[c] -= params.learning_rate * velocity[c];
          }
          break;
        case Optimizer::kAdam: {
          const double b1 = params.adam_beta1, b2 = params.adam_beta2;
          const double c1 = 1 - std::pow(b1, static_cast<double>(step));
          const double c2 = 1 - std::pow(b2, static_cast<double>(step));
          for (size_t c = 0; c < p; ++c) {
            m1[c] = b1 * m1[c] + (1 - b1) * grad[c];
            m2[c] = b2 * m2[c] + (1 - b2) * grad[c] * grad[c];
            theta[c] -=
                params.learning_rate * (m1[c] / c1) / (std::sqrt(m2[c] / c2) + params.adam_eps);
          }
          break;
        }
      }
    }
    if (!std::all_of(theta.begin(), theta.end(), [](double v) { return std::isfinite(v); })) {
      return absl::InvalidArgumentError(absl::StrCat("logistic training diverged at epoch ", epoch,
                                                     " (learning_rate ", params.learning_rate,
                                                     " too large for these features?)"));
    }

    EpochLoss loss;
    loss.epoch = epoch;
    for (size_t r = 0; r < n; ++r) {
      double margin = theta[cols];
      for (size_t c = 0; c < cols; ++c) margin += theta[c] * z[r * cols + c];
      probs[r] = Sigmoid(margin);
    }
    loss.train_logloss = LogLoss(train_labels, probs, train_weights);
    loss.valid_logloss = std::numeric_limits<double>::quiet_NaN();
    if (valid != nullptr) {
      copy_out();
      auto valid_probs = model.PredictBatch(valid->features);
      if (!valid_probs.ok()) return valid_probs.status();
      loss.valid_logloss = LogLoss(valid->labels, *valid_probs, valid->weights);
    }
    result.history.push_back(loss);
  }
  copy_out();
  result.rows_used = n;
  return result;
}

absl::StatusOr<LogisticTrainResult> TrainLogistic(const LogisticParams& params,
                                                  const Dataset& train, const Dataset* valid) {
  return LogisticTrainer::Run(params, train, valid);
}

}  // namespace recstack::ml
