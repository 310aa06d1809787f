#include "common/mf/sgd.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/math/kernels.h"
#include "common/math/rng.h"

namespace recstack::mf {
namespace {

// The gradients of one mini-batch, accumulated into dense rows, with the
// rows it touched (in first-touch order, so the updates are deterministic).
struct BatchGradient {
  math::Matrix rows;  // n x (d + 1), zero outside `touched`
  std::vector<int32_t> touched;
  std::vector<uint8_t> seen;

  void Reset(int64_t n, int64_t k) {
    rows.Resize(n, k);
    std::fill(rows.data(), rows.data() + rows.size(), 0.0f);
    touched.clear();
    seen.assign(n, 0);
  }
  float* Touch(int32_t r) {
    if (!seen[r]) {
      seen[r] = 1;
      touched.push_back(r);
    }
    return rows.row(r);
  }
  void Clear() {
    const int64_t k = rows.cols();
    for (int32_t r : touched) {
      std::fill(rows.row(r), rows.row(r) + k, 0.0f);
      seen[r] = 0;
    }
    touched.clear();
  }
};

// Adds one rating's loss term gradient to gu / gi (d + 1 each) and returns
// its loss l_ui (sgd.h). x, y are the theta rows [factors, bias]; wu, wv
// scale the user's and the item's regularization (1, or n^(e - 1)).
double AddRating(const float* x, const float* y, int d, float mu, float r, float lambda,
                 float lambda_bias, float wu, float wi, float* gu, float* gi) {
  const float pred = mu + x[d] + y[d] + math::Dot(x, y, d);
  const float e = r - pred;
  const float lu = lambda * wu, li = lambda * wi;
  double reg_u = 0, reg_i = 0;
  for (int a = 0; a < d; ++a) {
    gu[a] += -e * y[a] + lu * x[a];
    gi[a] += -e * x[a] + li * y[a];
    reg_u += static_cast<double>(x[a]) * x[a];
    reg_i += static_cast<double>(y[a]) * y[a];
  }
  gu[d] += -e + lambda_bias * wu * x[d];
  gi[d] += -e + lambda_bias * wi * y[d];
  return 0.5 * static_cast<double>(e) * e + 0.5 * (lu * reg_u + li * reg_i) +
         0.5 * lambda_bias *
             (wu * static_cast<double>(x[d]) * x[d] + wi * static_cast<double>(y[d]) * y[d]);
}

// Per-row regularization weights n^(e - 1) for rows with n ratings (all 1
// when e = 1, the default).
std::vector<float> RegWeights(const math::CsrMatrix& m, float exponent) {
  std::vector<float> w(m.rows, 1.0f);
  if (exponent == 1.0f) return w;
  for (int64_t r = 0; r < m.rows; ++r) {
    const int64_t n = m.RowLength(r);
    if (n > 0) w[r] = static_cast<float>(std::pow(static_cast<double>(n), exponent - 1.0));
  }
  return w;
}

bool AllFinite(const math::Matrix& m) {
  for (size_t j = 0; j < m.size(); ++j) {
    if (!std::isfinite(m.data()[j])) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<Optimizer> ParseOptimizerName(std::string_view name) {
  if (name == "sgd") return Optimizer::kSgd;
  if (name == "momentum") return Optimizer::kMomentum;
  if (name == "adagrad") return Optimizer::kAdagrad;
  if (name == "adam") return Optimizer::kAdam;
  return absl::InvalidArgumentError(absl::StrCat("unknown optimizer '", std::string(name),
                                                 "' (known: sgd, momentum, adagrad, adam)"));
}

std::string OptimizerName(Optimizer o) {
  switch (o) {
    case Optimizer::kSgd:
      return "sgd";
    case Optimizer::kMomentum:
      return "momentum";
    case Optimizer::kAdagrad:
      return "adagrad";
    case Optimizer::kAdam:
      break;
  }
  return "adam";
}

float DefaultLearningRate(Optimizer o) {
  switch (o) {
    case Optimizer::kSgd:
      return 0.1f;
    case Optimizer::kMomentum:
      return 0.01f;  // the velocity sums ~1 / (1 - beta) gradients
    case Optimizer::kAdagrad:
      return 0.05f;
    case Optimizer::kAdam:
      break;
  }
  return 0.005f;
}

float SgdParams::LearningRate() const {
  return learning_rate < 0 ? DefaultLearningRate(optimizer) : learning_rate;
}

absl::Status SgdParams::Validate() const {
  const float eta = LearningRate();
  if (!(eta > 0) || !std::isfinite(eta)) {
    return absl::InvalidArgumentError(absl::StrCat("learning-rate must be > 0, got ", eta));
  }
  if (batch_size < 1 || batch_size > (1 << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch-size must be 1 to 16777216, got ", batch_size));
  }
  if (!(momentum >= 0 && momentum < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("momentum must be in [0, 1), got ", momentum));
  }
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("adam betas must be in [0, 1), got ", beta1, " and ", beta2));
  }
  if (!(epsilon > 0) || !std::isfinite(epsilon)) {
    return absl::InvalidArgumentError(absl::StrCat("epsilon must be > 0, got ", epsilon));
  }
  if (!(decay > 0 && decay <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("lr-decay must be in (0, 1], got ", decay));
  }
  if (!(init_scale >= 0) || !std::isfinite(init_scale)) {
    return absl::InvalidArgumentError(absl::StrCat("init-scale must be >= 0, got ", init_scale));
  }
  return absl::OkStatus();
}

double MiniBatchLoss(const math::Matrix& theta_users, const math::Matrix& theta_items, float mu,
                     const Rating* batch, int64_t n, float lambda, float lambda_bias,
                     math::Matrix* grad_users, math::Matrix* grad_items) {
  const int d = static_cast<int>(theta_users.cols()) - 1;
  std::vector<float> scratch_u(d + 1), scratch_i(d + 1);
  for (math::Matrix* g : {grad_users, grad_items}) {
    if (g == nullptr) continue;
    const math::Matrix& like = g == grad_users ? theta_users : theta_items;
    g->Resize(like.rows(), like.cols());
    std::fill(g->data(), g->data() + g->size(), 0.0f);
  }
  double loss = 0;
  for (int64_t j = 0; j < n; ++j) {
    const Rating& r = batch[j];
    float* gu = grad_users != nullptr ? grad_users->row(r.user) : scratch_u.data();
    float* gi = grad_items != nullptr ? grad_items->row(r.item) : scratch_i.data();
    loss += AddRating(theta_users.row(r.user), theta_items.row(r.item), d, mu, r.value, lambda,
                      lambda_bias, 1.0f, 1.0f, gu, gi);
  }
  return loss;
}

void SgdExplicit::Step(float* theta, const float* g, float* s1, float* s2, uint32_t* steps,
                       float eta) {
  const int k = params_.factors + 1;
  switch (sgd_.optimizer) {
    case Optimizer::kSgd:
      for (int a = 0; a < k; ++a) theta[a] -= eta * g[a];
      break;
    case Optimizer::kMomentum:
      for (int a = 0; a < k; ++a) {
        s1[a] = sgd_.momentum * s1[a] + g[a];
        theta[a] -= eta * s1[a];
      }
      break;
    case Optimizer::kAdagrad:
      for (int a = 0; a < k; ++a) {
        s1[a] += g[a] * g[a];
        theta[a] -= eta * g[a] / (std::sqrt(s1[a]) + sgd_.epsilon);
      }
      break;
    case Optimizer::kAdam: {
      const uint32_t t = ++*steps;
      const float c1 = 1.0f - static_cast<float>(std::pow(sgd_.beta1, t));
      const float c2 = 1.0f - static_cast<float>(std::pow(sgd_.beta2, t));
      const float b1 = sgd_.beta1, b2 = sgd_.beta2;
      for (int a = 0; a < k; ++a) {
        s1[a] = b1 * s1[a] + (1 - b1) * g[a];
        s2[a] = b2 * s2[a] + (1 - b2) * g[a] * g[a];
        theta[a] -= eta * (s1[a] / c1) / (std::sqrt(s2[a] / c2) + sgd_.epsilon);
      }
      break;
    }
  }
}

absl::Status SgdExplicit::Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                              const IterationCallback& callback) {
  if (absl::Status st = sgd_.Validate(); !st.ok()) return st;
  if (absl::Status st = Init(by_user, by_item); !st.ok()) return st;
  const int d = params_.factors, k = d + 1;
  float eta = sgd_.LearningRate();
  const float lambda = params_.regularization;
  const float lambda_bias = params_.bias_regularization < 0 ? lambda : params_.bias_regularization;
  // Factors ~ N(0, init_scale^2) (users from seed, items from seed + 1),
  // biases 0.
  for (auto [theta, seed] :
       {std::pair{&theta_users_, params_.seed}, std::pair{&theta_items_, params_.seed + 1}}) {
    math::Rng rng(seed);
    for (int64_t r = 0; r < theta->rows(); ++r) {
      float* row = theta->row(r);
      for (int a = 0; a < d; ++a) row[a] = static_cast<float>(rng.Normal()) * sgd_.init_scale;
      row[d] = 0.0f;
    }
  }
  const std::vector<float> wu = RegWeights(by_user, params_.reg_exponent);
  const std::vector<float> wi = RegWeights(by_item, params_.reg_exponent);
  std::vector<Rating> ratings;
  ratings.reserve(by_user.nnz());
  for (int64_t u = 0; u < by_user.rows; ++u) {
    for (int64_t p = by_user.indptr[u]; p < by_user.indptr[u + 1]; ++p) {
      ratings.push_back({static_cast<int32_t>(u), by_user.indices[p], by_user.values[p]});
    }
  }
  // Optimizer state: momentum's velocity / adagrad's sums in s1, adam's
  // first and second moments in s1 and s2, adam's per-row step counts.
  const bool two = sgd_.optimizer == Optimizer::kAdam;
  const bool one = sgd_.optimizer != Optimizer::kSgd;
  std::vector<float> s1_users(one ? theta_users_.size() : 0),
      s1_items(one ? theta_items_.size() : 0);
  std::vector<float> s2_users(two ? theta_users_.size() : 0),
      s2_items(two ? theta_items_.size() : 0);
  std::vector<uint32_t> steps_users(theta_users_.rows()), steps_items(theta_items_.rows());
  BatchGradient gu, gi;
  gu.Reset(theta_users_.rows(), k);
  gi.Reset(theta_items_.rows(), k);
  math::Rng shuffle(params_.seed + 2);
  const int64_t n = static_cast<int64_t>(ratings.size());
  for (int it = 1; it <= params_.iterations; ++it) {
    for (int64_t j = n - 1; j > 0; --j) {
      std::swap(ratings[j], ratings[static_cast<int64_t>(shuffle.Below(j + 1))]);
    }
    for (int64_t b0 = 0; b0 < n; b0 += sgd_.batch_size) {
      const int64_t b1 = std::min<int64_t>(n, b0 + sgd_.batch_size);
      for (int64_t j = b0; j < b1; ++j) {
        const Rating& r = ratings[j];
        AddRating(theta_users_.row(r.user), theta_items_.row(r.item), d, mu_, r.value, lambda,
                  lambda_bias, wu[r.user], wi[r.item], gu.Touch(r.user), gi.Touch(r.item));
      }
      for (int32_t u : gu.touched) {
        Step(theta_users_.row(u), gu.rows.row(u), one ? &s1_users[u * k] : nullptr,
             two ? &s2_users[u * k] : nullptr, &steps_users[u], eta);
      }
      for (int32_t i : gi.touched) {
        Step(theta_items_.row(i), gi.rows.row(i), one ? &s1_items[i * k] : nullptr,
             two ? &s2_items[i * k] : nullptr, &steps_items[i], eta);
      }
      gu.Clear();
      gi.Clear();
    }
    if (!AllFinite(theta_users_) || !AllFinite(theta_items_)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sgd-explicit diverged in epoch ", it, " (non-finite factors): lower --learning-rate (",
          eta, " with --optimizer ", OptimizerName(sgd_.optimizer), ")"));
    }
    Publish();
    eta *= sgd_.decay;
    if (callback && !callback(it)) break;
  }
  return absl::OkStatus();
}

}  // namespace recstack::mf
