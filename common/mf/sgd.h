#pragma once

// Biased matrix factorization by mini-batch stochastic gradient descent, as
// Funk (2006) and LIBMF (Chin, Zhuang, Juan and Lin 2015) fit it:
//   r_ui ~ mu + b_u + b_i + x_u . y_i
// minimising the sum over the training ratings of
//   l_ui = 1/2 (r_ui - r^_ui)^2 + lambda/2 (|x_u|^2 + |y_i|^2)
//          + lambda_b/2 (b_u^2 + b_i^2),
// so a row is regularized once per rating it has (like LIBMF's and Funk's
// updates; with AlsParams::reg_exponent e != 1 each of a row's terms is
// scaled by n^(e - 1) for its n ratings, so its total is lambda n^e as in
// ALS). mu is the training mean and stays fixed.
//
// One epoch (= one iteration) visits every training rating once in an order
// shuffled with a seeded generator, in mini-batches of `batch_size` ratings.
// A mini-batch's gradient is the SUM of its ratings' gradients (LIBMF's
// objective is a sum, and a learning rate then means the same per rating at
// every batch size); adagrad and adam are invariant to that scale anyway.
// Each row of theta = [x, b] touched by the batch is then updated by the
// optimizer, with g its gradient and eta the learning rate:
//   sgd:      theta -= eta g
//   momentum: v = beta v + g;  theta -= eta v          (heavy ball)
//   adagrad:  G += g^2;  theta -= eta g / (sqrt(G) + eps)
//   adam:     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//             theta -= eta m^ / (sqrt(v^) + eps), m^ = m / (1 - b1^t),
//             v^ = v / (1 - b2^t)
// The optimizer state is per parameter and updated lazily (only rows the
// batch touches, as sparse optimizers do), and Adam's step t counts the
// updates of that row, so a rarely seen item's bias correction is right.
// The updates run on one thread, so a seed gives bit-identical factors.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/math/csr.h"
#include "common/math/dense.h"
#include "common/mf/als.h"

namespace recstack::mf {

enum class Optimizer { kSgd, kMomentum, kAdagrad, kAdam };

// "sgd" / "momentum" / "adagrad" / "adam".
absl::StatusOr<Optimizer> ParseOptimizerName(std::string_view name);
std::string OptimizerName(Optimizer o);
// The learning rate used when none is given, per optimizer (chosen on
// MovieLens 100K u1 at 64 factors, 20 epochs, the other defaults).
float DefaultLearningRate(Optimizer o);

struct SgdParams {
  Optimizer optimizer = Optimizer::kAdam;
  // Negative = DefaultLearningRate(optimizer); otherwise must be > 0.
  float learning_rate = -1.0f;
  int32_t batch_size = 128;
  float momentum = 0.9f;               // momentum: beta
  float beta1 = 0.9f, beta2 = 0.999f;  // adam
  float epsilon = 1e-8f;               // adagrad, adam
  // Factors ~ N(0, init_scale^2), biases 0. Small: a row is regularized
  // only when a batch touches it, so a rarely rated row would keep most of
  // a larger random start.
  float init_scale = 0.003f;
  // The learning rate of epoch e (1-based) is eta * decay^(e - 1), Koren's
  // (2008) 0.9 per pass over the data; 1 = constant.
  float decay = 0.9f;

  // learning_rate with a negative resolved to the optimizer's default.
  float LearningRate() const;
  absl::Status Validate() const;
};

// One (user, item, rating) of a mini-batch, as indices into theta.
struct Rating {
  int32_t user = 0, item = 0;
  float value = 0;
};

// The loss of one mini-batch (the sum of l_ui above; unclipped predictions)
// and, when the gradients are non-null, its gradient with respect to every
// row of theta_users / theta_items (n x (d + 1), rows [x, b]) written densely
// into grad_users / grad_items (resized and zeroed). The same arithmetic as
// the trainer's batch step; exposed so tests can check it by finite
// differences.
double MiniBatchLoss(const math::Matrix& theta_users, const math::Matrix& theta_items, float mu,
                     const Rating* batch, int64_t n, float lambda, float lambda_bias,
                     math::Matrix* grad_users = nullptr, math::Matrix* grad_items = nullptr);

// Biased MF by mini-batch SGD. AlsParams gives factors, iterations (epochs),
// regularization (lambda), bias_regularization (negative = lambda) and seed;
// threads is unused (single-threaded updates).
class SgdExplicit final : public ExplicitModel {
 public:
  SgdExplicit(AlsParams params, SgdParams sgd) : ExplicitModel(params), sgd_(sgd) {}
  absl::Status Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                   const IterationCallback& callback = nullptr) override;
  bool sampling() const override { return false; }
  const SgdParams& sgd_params() const { return sgd_; }

 private:
  // The optimizer's step on one theta row given its gradient g (d + 1).
  void Step(float* theta, const float* g, float* s1, float* s2, uint32_t* steps, float eta);

  SgdParams sgd_;
};

}  // namespace recstack::mf
