#pragma once

// Alternating least squares (DESIGN §4, STYLE rule 10).
//
// Implicit feedback: Hu, Koren and Volinsky (2008). Preference p_ui = 1 for
// observed pairs, confidence c_ui = 1 + alpha * r_ui (or c_ui = r_ui with
// Confidence::kValue, as benfred/implicit does). Each half-sweep computes
// G = Y^T Y + lambda I once (ssyrk), then solves every row
//   (G + Y_u^T (C_u - I) Y_u) x_u = Y_u^T C_u p_u
// with a few conjugate-gradient steps warm-started from the previous x_u,
// touching only the row's nonzeros; or exactly (Cholesky), the test oracle.
//
// Explicit ratings: r_ui ~ mu + b_u + b_i + x_u . y_i. Each row's unknowns
// theta_u = [x_u, b_u] are a linear regression on the other side's [y_i, 1]
// with the normal equations (X^T X + P) theta = X^T t + P m, t = r - mu - b_i.
//  - kAls: deterministic; P = lambda * n_u I, m = 0 (weighted-lambda
//    regularization, Zhou et al. 2008), theta the solution.
//  - kGibbs: Bayesian PMF (Salakhutdinov and Mnih 2008) with the biases as
//    one more dimension; noise precision a scales X^T X and X^T t, P and m
//    are the side's prior, itself drawn each sweep from its Normal-Wishart
//    posterior, and theta is drawn from N(solution, (a X^T X + P)^-1) with the
//    same Cholesky factor. Predictions are averaged over the sweeps after
//    burn-in; the published factors and biases are their posterior means.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/math/csr.h"
#include "common/math/dense.h"
#include "common/math/simd.h"

namespace recstack::mf {

// kSubspace: iALS++ (Rendle, Krichene, Zhang and Koren 2021), block
// coordinate descent over `block_size`-dimensional subspaces of each row.
enum class Solver { kConjugateGradient, kCholesky, kSubspace };
enum class Confidence { kOnePlusAlpha, kValue };
enum class ExplicitSolver { kAls, kGibbs };

struct AlsParams {
  int32_t factors = 64;
  int32_t iterations = 15;
  float regularization = 0.01f;
  float alpha = 1.0f;  // implicit: c = 1 + alpha * r
  Confidence confidence = Confidence::kOnePlusAlpha;
  int32_t cg_steps = 3;
  Solver solver = Solver::kConjugateGradient;
  // iALS++: dimensions per subspace block (1 to factors; = factors is the
  // exact solve).
  int32_t block_size = 8;
  // Implicit: solve rows longest first, so the short rows at the end even
  // out the threads (dynamic scheduling alone leaves a long row last).
  bool order_rows_by_nnz = true;
  int32_t threads = 2;
  uint64_t seed = 42;
  // Initial factors ~ N(0, init_scale^2) (implicit) / N(0, 0.1^2) (explicit).
  float init_scale = 0.01f;
  // Explicit: regularization of the biases, also scaled by the row's count;
  // negative = the same as `regularization`.
  float bias_regularization = -1.0f;
  // Explicit: a row's regularization is lambda * n^reg_exponent for its n
  // ratings (1 = weighted-lambda regularization, 0 = plain ridge).
  float reg_exponent = 1.0f;
  // Explicit: deterministic ALS or the Gibbs sampler (one sweep = one
  // iteration).
  ExplicitSolver explicit_solver = ExplicitSolver::kAls;
  // Gibbs: sweeps whose samples are not averaged; -1 = iterations / 4.
  int32_t burn_in = -1;
  // Gibbs: precision of the rating noise (1 / sigma^2; BPMF fixes 2); 0 =
  // drawn each sweep from its Gamma posterior (Gamma(1, 1) prior).
  float noise_precision = 0.0f;
  // Gibbs: deterministic ALS sweeps (with `regularization`) that start the
  // chain near the posterior mode, as BPMF starts from a PMF fit.
  int32_t warm_start = 0;

  // Burn-in with -1 resolved.
  int32_t BurnIn() const { return burn_in >= 0 ? burn_in : iterations / 4; }
  absl::Status Validate() const;
};

// Called after each iteration with its index (1-based); return false to stop
// (early stopping, cancellation).
using IterationCallback = std::function<bool(int iteration)>;

class ImplicitAls {
 public:
  explicit ImplicitAls(AlsParams params) : params_(params) {}

  // by_user: users x items raw values r; by_item its transpose.
  absl::Status Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                   const IterationCallback& callback = nullptr);

  // The weighted squared loss plus regularization, per Hu et al., divided by
  // (sum of confidences + number of unobserved pairs) like implicit's.
  double Loss(const math::CsrMatrix& by_user) const;

  // One user step against fixed item factors (also the fold-in of a new
  // user): items/values are that user's nonzeros.
  static void SolveUser(const math::Matrix& item_factors, const float* gram_plus_reg,
                        const int32_t* items, const float* values, int64_t n, const AlsParams& p,
                        float* x);
  // The same with the kernels of an explicit SIMD level (at most
  // math::DetectSimdLevel(); tests compare the variants).
  static void SolveUserAt(math::SimdLevel level, const math::Matrix& item_factors,
                          const float* gram_plus_reg, const int32_t* items, const float* values,
                          int64_t n, const AlsParams& p, float* x);

  math::Matrix& user_factors() { return users_; }
  math::Matrix& item_factors() { return items_; }
  const math::Matrix& user_factors() const { return users_; }
  const math::Matrix& item_factors() const { return items_; }
  const AlsParams& params() const { return params_; }

  // Seconds of the last Fit spent in the Gram matrices vs the row solves.
  double gram_seconds() const { return gram_seconds_; }
  double solve_seconds() const { return solve_seconds_; }

  // Where the last Fit's time went, with profiling on (timers around each
  // row's gather and solve, about 50 ns a row). Seconds of wall time: the
  // per-thread phases summed and divided by the thread count; imbalance is
  // the wall time of the row loops minus the mean thread's busy time.
  struct Profile {
    double gram_seconds = 0;          // Y^T Y + lambda I (ssyrk)
    double gather_seconds = 0;        // copying each row's factor rows and confidences
    double kernel_seconds = 0;        // CG steps / subspace solves
    double row_overhead_seconds = 0;  // the row loop around them (scheduling, timers)
    double imbalance_seconds = 0;     // threads idle at the end of a half-step
    int64_t rows = 0;                 // rows solved
  };
  void set_profiling(bool on) { profiling_ = on; }
  const Profile& profile() const { return profile_; }

 private:
  // order: the rows in solve order (empty = 0..rows-1).
  void HalfStep(const math::CsrMatrix& m, const std::vector<int64_t>& order,
                const math::Matrix& fixed, math::Matrix& solve);

  AlsParams params_;
  math::Matrix users_, items_;
  double gram_seconds_ = 0, solve_seconds_ = 0;
  bool profiling_ = false;
  Profile profile_;
};

// What the explicit-rating learners share: the model
// r_ui = mu + b_u + b_i + x_u . y_i, its working rows theta = [x, b], the
// deterministic ALS half-sweep, prediction and loss. ExplicitAls and
// GibbsSampler differ only in how Fit moves theta.
class ExplicitModel {
 public:
  virtual ~ExplicitModel();

  // (user, item) pairs, -1 for unknown, whose predictions Fit averages over
  // the Gibbs samples (the held-out rows); call before Fit.
  void TrackPairs(std::vector<std::pair<int32_t, int32_t>> pairs) { tracked_ = std::move(pairs); }

  virtual absl::Status Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                           const IterationCallback& callback = nullptr) = 0;
  // Prediction of the model (for Gibbs the posterior-mean factors and
  // biases: what is published) for known user and item indices; -1 means
  // unknown (falls back to the mean plus the known bias). Clipped to the
  // training range.
  float Predict(int32_t user, int32_t item) const;
  // The j-th tracked pair's prediction: for Gibbs the average over the
  // samples so far (after burn-in) of each sample's clipped prediction, the
  // posterior predictive mean; for ALS the same as Predict.
  float TrackedPrediction(size_t j) const;
  virtual bool sampling() const = 0;
  // Samples averaged so far (0 during burn-in and for ALS).
  int samples() const { return samples_; }
  // Training RMSE of the model.
  double Loss(const math::CsrMatrix& by_user) const;

  const math::Matrix& user_factors() const { return users_; }
  const math::Matrix& item_factors() const { return items_; }
  const std::vector<float>& user_bias() const { return user_bias_; }
  const std::vector<float>& item_bias() const { return item_bias_; }
  float global_mean() const { return mu_; }

 protected:
  explicit ExplicitModel(AlsParams params);
  // Validates, sets mu and the rating range, draws theta (factors
  // ~ N(0, 0.1^2), biases 0) and sizes the per-thread scratch.
  absl::Status Init(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item);
  // One deterministic half-sweep: every row of `solve` is
  // (X^T X + lambda n^e I)^-1 X^T t against `fixed`.
  void AlsHalf(const math::CsrMatrix& m, const math::Matrix& fixed, math::Matrix& solve);
  float PredictTheta(const float* user, const float* item) const;
  // The model (factors, biases) from theta, or from the running means.
  void Publish();

  struct Scratch;  // per-thread buffers of the row solves (als.cc)

  AlsParams params_;
  // The model: factors and biases, the posterior means for Gibbs.
  math::Matrix users_, items_;
  std::vector<float> user_bias_, item_bias_;
  float mu_ = 0, min_rating_ = 0, max_rating_ = 0;
  // Working rows [factors, bias], n x (d + 1): ALS's iterate, Gibbs's sample.
  math::Matrix theta_users_, theta_items_;
  // Gibbs: sums over the averaged samples.
  std::vector<double> sum_users_, sum_items_, sum_tracked_;
  int samples_ = 0;
  std::vector<std::pair<int32_t, int32_t>> tracked_;
  std::vector<Scratch> scratch_;
};

// Deterministic ALS on ratings with weighted-lambda regularization.
class ExplicitAls final : public ExplicitModel {
 public:
  explicit ExplicitAls(AlsParams params) : ExplicitModel(params) {}
  absl::Status Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                   const IterationCallback& callback = nullptr) override;
  bool sampling() const override { return false; }
};

// Bayesian PMF by Gibbs sampling (one sweep = one iteration), optionally
// warm-started by ALS sweeps; the published model is the posterior mean.
class GibbsSampler final : public ExplicitModel {
 public:
  explicit GibbsSampler(AlsParams params) : ExplicitModel(params) {}
  absl::Status Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                   const IterationCallback& callback = nullptr) override;
  bool sampling() const override { return true; }

 private:
  // Draws the noise precision from its Gamma posterior given the residuals.
  void SampleNoise(const math::CsrMatrix& by_user, int sweep);
  // One half-sweep: the side's prior, then every row from its conditional.
  absl::Status HalfSweep(const math::CsrMatrix& m, const math::Matrix& fixed, math::Matrix& solve,
                         int sweep, int side);
  double noise_ = 0;
};

// ExplicitAls or GibbsSampler, as params.explicit_solver says.
std::unique_ptr<ExplicitModel> MakeExplicitModel(AlsParams params);

// Solves A x = b for symmetric positive definite A (n x n, row-major) in
// place by Cholesky; A and b are overwritten. False if A is not SPD.
bool CholeskySolve(float* a, float* b, int n);

// Runs fn(begin, end) over [0, n) in chunks on `threads` threads with
// dynamic scheduling (an atomic cursor).
void ParallelFor(int64_t n, int threads, int64_t chunk,
                 const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

}  // namespace recstack::mf
