#include "services/training/core/als.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/math/blas.h"
#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "services/training/core/sampling.h"

namespace recstack::training {
namespace {

#define RECSTACK_MULTIVERSION __attribute__((target_clones("avx512f", "arch=haswell", "default")))

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Conjugate-gradient steps for one row, as benfred/implicit's _als.pyx
// does: all loops over d are written out so each ISA clone vectorises them.
// scratch holds 3 * d floats.
RECSTACK_MULTIVERSION
void CgRow(const float* __restrict y, const float* __restrict gram, const int32_t* items,
           const float* values, int64_t n, int d, int steps, float alpha, bool value_confidence,
           float* __restrict x, float* __restrict scratch) {
  float* __restrict r = scratch;
  float* __restrict p = scratch + d;
  float* __restrict ap = scratch + 2 * d;
  // r = b - A x, with A = G + sum (c-1) y y^T and b = sum c y.
  for (int a = 0; a < d; ++a) {
    const float* g = gram + a * d;
    float s = 0;
    for (int b = 0; b < d; ++b) s += g[b] * x[b];
    r[a] = -s;
  }
  for (int64_t j = 0; j < n; ++j) {
    const float* yi = y + static_cast<int64_t>(items[j]) * d;
    const float c = value_confidence ? values[j] : 1.0f + alpha * values[j];
    float dot = 0;
    for (int a = 0; a < d; ++a) dot += yi[a] * x[a];
    const float w = c - (c - 1.0f) * dot;
    for (int a = 0; a < d; ++a) r[a] += w * yi[a];
  }
  float rs_old = 0;
  for (int a = 0; a < d; ++a) {
    p[a] = r[a];
    rs_old += r[a] * r[a];
  }
  for (int step = 0; step < steps; ++step) {
    if (rs_old < 1e-20f) break;
    for (int a = 0; a < d; ++a) {
      const float* g = gram + a * d;
      float s = 0;
      for (int b = 0; b < d; ++b) s += g[b] * p[b];
      ap[a] = s;
    }
    for (int64_t j = 0; j < n; ++j) {
      const float* yi = y + static_cast<int64_t>(items[j]) * d;
      const float c = value_confidence ? values[j] : 1.0f + alpha * values[j];
      float dot = 0;
      for (int a = 0; a < d; ++a) dot += yi[a] * p[a];
      const float w = (c - 1.0f) * dot;
      for (int a = 0; a < d; ++a) ap[a] += w * yi[a];
    }
    float pap = 0;
    for (int a = 0; a < d; ++a) pap += p[a] * ap[a];
    if (pap <= 0) break;
    const float step_len = rs_old / pap;
    float rs_new = 0;
    for (int a = 0; a < d; ++a) {
      x[a] += step_len * p[a];
      r[a] -= step_len * ap[a];
      rs_new += r[a] * r[a];
    }
    const float beta = rs_new / rs_old;
    for (int a = 0; a < d; ++a) p[a] = r[a] + beta * p[a];
    rs_old = rs_new;
  }
}

// Exact solve of the same system (the oracle): builds A and b densely.
void CholeskyRow(const float* y, const float* gram, const int32_t* items, const float* values,
                 int64_t n, int d, float alpha, bool value_confidence, float* x, float* a_buf) {
  std::copy(gram, gram + d * d, a_buf);
  std::vector<float> b(d, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    const float* yi = y + static_cast<int64_t>(items[j]) * d;
    const float c = value_confidence ? values[j] : 1.0f + alpha * values[j];
    for (int a = 0; a < d; ++a) {
      b[a] += c * yi[a];
      for (int bb = 0; bb < d; ++bb) a_buf[a * d + bb] += (c - 1.0f) * yi[a] * yi[bb];
    }
  }
  if (CholeskySolve(a_buf, b.data(), d)) std::copy(b.begin(), b.end(), x);
}

void GramPlusReg(const math::Matrix& f, float reg, std::vector<float>* g) {
  const int64_t d = f.cols();
  g->assign(d * d, 0.0f);
  math::SyrkAtA(d, f.rows(), 1.0f, f.data(), d, 0.0f, g->data());
  for (int64_t a = 0; a < d; ++a) (*g)[a * d + a] += reg;
}

void RandomInit(math::Matrix& m, int64_t rows, int64_t d, uint64_t seed, float scale) {
  m.Resize(rows, d);
  math::Rng rng(seed);
  for (size_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.Normal()) * scale;
}

}  // namespace

absl::Status AlsParams::Validate() const {
  if (factors <= 0 || factors > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("factors must be 1-1024, got ", factors));
  }
  if (iterations <= 0 || iterations > 1000) {
    return absl::InvalidArgumentError(absl::StrCat("iterations must be 1-1000, got ", iterations));
  }
  if (!(regularization >= 0) || !std::isfinite(regularization)) {
    return absl::InvalidArgumentError(absl::StrCat("regularization must be >= 0, got ", regularization));
  }
  if (!(alpha >= 0) || !std::isfinite(alpha)) {
    return absl::InvalidArgumentError(absl::StrCat("alpha must be >= 0, got ", alpha));
  }
  if (cg_steps <= 0 || cg_steps > 100) {
    return absl::InvalidArgumentError(absl::StrCat("cg-steps must be 1-100, got ", cg_steps));
  }
  if (threads <= 0 || threads > 256) {
    return absl::InvalidArgumentError(absl::StrCat("threads must be 1-256, got ", threads));
  }
  if (explicit_solver == ExplicitSolver::kGibbs) {
    if (burn_in < -1 || burn_in >= iterations) {
      return absl::InvalidArgumentError(absl::StrCat("burn-in must be 0 to iterations - 1 (",
                                                     iterations - 1,
                                                     ") or -1 for iterations / 4, got ", burn_in));
    }
    if (!(noise_precision >= 0) || !std::isfinite(noise_precision)) {
      return absl::InvalidArgumentError(
          absl::StrCat("noise-precision must be > 0 (or 0: sampled), got ", noise_precision));
    }
    if (warm_start < 0 || warm_start > 1000) {
      return absl::InvalidArgumentError(
          absl::StrCat("warm-start must be 0-1000, got ", warm_start));
    }
  }
  return absl::OkStatus();
}

void ParallelFor(int64_t n, int threads, int64_t chunk,
                 const std::function<void(int64_t, int64_t, int)>& fn) {
  std::atomic<int64_t> cursor{0};
  auto work = [&](int t) {
    while (true) {
      const int64_t b = cursor.fetch_add(chunk);
      if (b >= n) break;
      fn(b, std::min(n, b + chunk), t);
    }
  };
  if (threads <= 1) {
    work(0);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
}

bool CholeskySolve(float* a, float* b, int n) {
  // In double for the oracle's accuracy.
  std::vector<double> l(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = a[i * n + j];
      for (int k = 0; k < j; ++k) s -= l[i * n + k] * l[j * n + k];
      if (i == j) {
        if (s <= 0) return false;
        l[i * n + i] = std::sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  std::vector<double> z(n);
  for (int i = 0; i < n; ++i) {
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= l[i * n + k] * z[k];
    z[i] = s / l[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    double s = z[i];
    for (int k = i + 1; k < n; ++k) s -= l[k * n + i] * b[k];
    b[i] = static_cast<float>(s / l[i * n + i]);
  }
  return true;
}

void ImplicitAls::SolveUser(const math::Matrix& item_factors, const float* gram_plus_reg,
                            const int32_t* items, const float* values, int64_t n, const AlsParams& p,
                            float* x) {
  const int d = static_cast<int>(item_factors.cols());
  const bool value_conf = p.confidence == Confidence::kValue;
  if (p.solver == Solver::kCholesky) {
    std::vector<float> a(static_cast<size_t>(d) * d);
    CholeskyRow(item_factors.data(), gram_plus_reg, items, values, n, d, p.alpha, value_conf, x, a.data());
  } else {
    std::vector<float> scratch(3 * d);
    CgRow(item_factors.data(), gram_plus_reg, items, values, n, d, p.cg_steps, p.alpha, value_conf, x,
          scratch.data());
  }
}

void ImplicitAls::HalfStep(const math::CsrMatrix& m, const math::Matrix& fixed, math::Matrix& solve) {
  const int d = params_.factors;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> gram;
  math::SetBlasThreads(params_.threads);
  GramPlusReg(fixed, params_.regularization, &gram);
  // OpenBLAS stays single-threaded inside the row loop (our threads own it).
  math::SetBlasThreads(1);
  gram_seconds_ += Seconds(t0);
  auto t1 = std::chrono::steady_clock::now();
  const bool value_conf = params_.confidence == Confidence::kValue;
  const int threads = params_.threads;
  std::vector<std::vector<float>> scratch(threads, std::vector<float>(static_cast<size_t>(d) * d + 3 * d));
  ParallelFor(m.rows, threads, 64, [&](int64_t b, int64_t e, int t) {
    float* buf = scratch[t].data();
    for (int64_t row = b; row < e; ++row) {
      const int64_t s = m.indptr[row], n = m.indptr[row + 1] - s;
      float* x = solve.row(row);
      if (params_.solver == Solver::kCholesky) {
        CholeskyRow(fixed.data(), gram.data(), m.indices.data() + s, m.values.data() + s, n, d,
                    params_.alpha, value_conf, x, buf);
      } else {
        CgRow(fixed.data(), gram.data(), m.indices.data() + s, m.values.data() + s, n, d,
              params_.cg_steps, params_.alpha, value_conf, x, buf);
      }
    }
  });
  solve_seconds_ += Seconds(t1);
}

absl::Status ImplicitAls::Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                              const IterationCallback& callback) {
  if (absl::Status st = params_.Validate(); !st.ok()) return st;
  if (by_user.nnz() == 0) return absl::InvalidArgumentError("no interactions to train on");
  const int d = params_.factors;
  if (users_.rows() != by_user.rows || users_.cols() != d) {
    RandomInit(users_, by_user.rows, d, params_.seed, params_.init_scale);
  }
  if (items_.rows() != by_user.cols || items_.cols() != d) {
    RandomInit(items_, by_user.cols, d, params_.seed + 1, params_.init_scale);
  }
  gram_seconds_ = solve_seconds_ = 0;
  for (int it = 1; it <= params_.iterations; ++it) {
    HalfStep(by_user, items_, users_);
    HalfStep(by_item, users_, items_);
    if (callback && !callback(it)) break;
  }
  return absl::OkStatus();
}

double ImplicitAls::Loss(const math::CsrMatrix& by_user) const {
  const int d = params_.factors;
  std::vector<float> gram;
  GramPlusReg(items_, 0.0f, &gram);
  const bool value_conf = params_.confidence == Confidence::kValue;
  double loss = 0, total_conf = 0, user_norm = 0, item_norm = 0;
  std::vector<float> gx(d);
  for (int64_t u = 0; u < by_user.rows; ++u) {
    const float* x = users_.row(u);
    // x^T (Y^T Y) x covers every pair with confidence 1 and preference 0.
    math::Gemv(false, d, d, 1.0f, gram.data(), d, x, 0.0f, gx.data());
    loss += math::Dot(x, gx.data(), d);
    for (int64_t p = by_user.indptr[u]; p < by_user.indptr[u + 1]; ++p) {
      const float c = value_conf ? by_user.values[p] : 1.0f + params_.alpha * by_user.values[p];
      const double s = math::Dot(x, items_.row(by_user.indices[p]), d);
      // Replace the c = 1, p = 0 term by the observed c * (1 - s)^2.
      loss += c * (1.0 - s) * (1.0 - s) - s * s;
      total_conf += c;
    }
    user_norm += math::Dot(x, x, d);
  }
  for (int64_t i = 0; i < items_.rows(); ++i) item_norm += math::Dot(items_.row(i), items_.row(i), d);
  loss += params_.regularization * (user_norm + item_norm);
  const double denom = total_conf + static_cast<double>(by_user.rows) * by_user.cols - by_user.nnz();
  return loss / denom;
}

namespace {

// A seed for one stream of draws (sweep, side, row): splitmix64 steps, so
// each row's draws depend on the seed and its position only, not on which
// thread solved it.
uint64_t StreamSeed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = seed;
  for (uint64_t v : {a, b, c}) {
    x += 0x9e3779b97f4a7c15ULL + v;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
  }
  return x;
}

// Per-thread scratch of the explicit half-steps; k = factors + 1.
struct ExplicitScratch {
  std::vector<float> x, t, xtx, xtt;  // max_n x k, max_n, k x k, k
  std::vector<double> a, b;           // k x k, k
};

// The normal equations of one row against the other side's theta
// (n_other x k, bias last): xtx = X^T X and xtt = X^T t over its n ratings,
// X's rows [y_j, 1], t_j = r_j - mu - b_j. sgemm-class work through the BLAS
// facade (single-threaded inside the row loop).
void RowNormalEquations(const math::CsrMatrix& m, int64_t row, const math::Matrix& fixed, float mu,
                        ExplicitScratch& s) {
  const int k = static_cast<int>(fixed.cols()), d = k - 1;
  const int64_t begin = m.indptr[row], n = m.indptr[row + 1] - begin;
  for (int64_t p = 0; p < n; ++p) {
    const float* y = fixed.row(m.indices[begin + p]);
    float* xp = s.x.data() + p * k;
    std::copy(y, y + d, xp);
    xp[d] = 1.0f;
    s.t[p] = m.values[begin + p] - mu - y[d];
  }
  if (n == 0) {
    std::fill(s.xtx.begin(), s.xtx.end(), 0.0f);
    std::fill(s.xtt.begin(), s.xtt.end(), 0.0f);
    return;
  }
  math::SyrkAtA(k, n, 1.0f, s.x.data(), k, 0.0f, s.xtx.data());
  math::Gemv(true, n, k, 1.0f, s.x.data(), k, s.t.data(), 0.0f, s.xtt.data());
}

}  // namespace

absl::Status ExplicitAls::Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                              const IterationCallback& callback) {
  if (absl::Status st = params_.Validate(); !st.ok()) return st;
  if (by_user.nnz() == 0) return absl::InvalidArgumentError("no ratings to train on");
  const int d = params_.factors, k = d + 1;
  const bool gibbs = sampling();
  double sum = 0;
  min_rating_ = by_user.values[0];
  max_rating_ = by_user.values[0];
  for (float v : by_user.values) {
    sum += v;
    min_rating_ = std::min(min_rating_, v);
    max_rating_ = std::max(max_rating_, v);
  }
  mu_ = static_cast<float>(sum / by_user.nnz());
  // Factors ~ N(0, 0.1^2), biases 0.
  math::Matrix init;
  theta_users_.Resize(by_user.rows, k);
  theta_items_.Resize(by_user.cols, k);
  for (auto [theta, seed] :
       {std::pair{&theta_users_, params_.seed}, std::pair{&theta_items_, params_.seed + 1}}) {
    RandomInit(init, theta->rows(), d, seed, 0.1f);
    for (int64_t r = 0; r < theta->rows(); ++r)
      std::copy(init.row(r), init.row(r) + d, theta->row(r));
  }
  samples_ = 0;
  sum_users_.assign(gibbs ? theta_users_.size() : 0, 0.0);
  sum_items_.assign(gibbs ? theta_items_.size() : 0, 0.0);
  sum_tracked_.assign(tracked_.size(), 0.0);
  math::SetBlasThreads(1);

  const int threads = params_.threads;
  std::vector<ExplicitScratch> scratch(threads);
  int64_t max_n = 1;
  for (const math::CsrMatrix* m : {&by_user, &by_item}) {
    for (int64_t r = 0; r < m->rows; ++r) max_n = std::max(max_n, m->indptr[r + 1] - m->indptr[r]);
  }
  for (ExplicitScratch& s : scratch) {
    s.x.resize(max_n * k);
    s.t.resize(max_n);
    s.xtx.resize(k * k);
    s.xtt.resize(k);
    s.a.resize(k * k);
    s.b.resize(k);
  }
  // Deterministic ALS: theta = (X^T X + lambda n^e I)^-1 X^T t.
  auto als_half = [&](const math::CsrMatrix& m, const math::Matrix& fixed, math::Matrix& solve) {
    ParallelFor(m.rows, threads, 32, [&](int64_t b, int64_t e, int t) {
      ExplicitScratch& s = scratch[t];
      for (int64_t row = b; row < e; ++row) {
        const int64_t n = m.indptr[row + 1] - m.indptr[row];
        if (n == 0) continue;
        RowNormalEquations(m, row, fixed, mu_, s);
        const double scale = std::pow(static_cast<double>(n), params_.reg_exponent);
        for (int a = 0; a < k * k; ++a) s.a[a] = s.xtx[a];
        for (int a = 0; a < k; ++a) {
          const float reg = a < d || params_.bias_regularization < 0 ? params_.regularization
                                                                     : params_.bias_regularization;
          s.a[a * k + a] += reg * scale;
          s.b[a] = s.xtt[a];
        }
        if (!CholeskyLower(s.a.data(), k)) continue;  // singular (lambda 0): keep the iterate
        SolveLower(s.a.data(), k, s.b.data());
        SolveLowerTransposed(s.a.data(), k, s.b.data());
        float* out = solve.row(row);
        for (int a = 0; a < k; ++a) out[a] = static_cast<float>(s.b[a]);
      }
    });
  };
  // One Gibbs half-sweep: the side's prior from its Normal-Wishart
  // posterior, then every row from N(A^-1 b, A^-1), A = a X^T X + P,
  // b = a X^T t + P m: theta = L^-T (L^-1 b + z) for A = L L^T, z ~ N(0, I).
  // Noise precision: fixed, or (0) drawn each sweep from its Gamma posterior
  // under a Gamma(1, 1) prior given the current sample's training residuals.
  double noise = params_.noise_precision;
  auto sample_noise = [&](int sweep) {
    double sse = 0;
    for (int64_t u = 0; u < by_user.rows; ++u) {
      const float* x = theta_users_.row(u);
      for (int64_t p = by_user.indptr[u]; p < by_user.indptr[u + 1]; ++p) {
        const float* y = theta_items_.row(by_user.indices[p]);
        const double e = by_user.values[p] - mu_ - x[d] - y[d] - math::Dot(x, y, d);
        sse += e * e;
      }
    }
    math::Rng rng(StreamSeed(params_.seed, sweep, 2, ~0ULL));
    noise = SampleGamma(rng, 1.0 + 0.5 * static_cast<double>(by_user.nnz())) / (1.0 + 0.5 * sse);
  };
  auto gibbs_half = [&](const math::CsrMatrix& m, const math::Matrix& fixed, math::Matrix& solve,
                        int sweep, int side) -> absl::Status {
    math::Rng hyper_rng(StreamSeed(params_.seed, sweep, side, ~0ULL));
    absl::StatusOr<GaussianPrior> prior =
        SampleNormalWishart(solve.data(), solve.rows(), k, 2.0, hyper_rng);
    if (!prior.ok()) return prior.status();
    std::vector<double> pm(k, 0.0);  // P m
    for (int a = 0; a < k; ++a) {
      for (int c = 0; c < k; ++c) pm[a] += prior->precision[a * k + c] * prior->mean[c];
    }
    std::atomic<bool> failed{false};
    ParallelFor(m.rows, threads, 32, [&](int64_t b, int64_t e, int t) {
      ExplicitScratch& s = scratch[t];
      for (int64_t row = b; row < e; ++row) {
        RowNormalEquations(m, row, fixed, mu_, s);
        for (int a = 0; a < k * k; ++a) s.a[a] = noise * s.xtx[a] + prior->precision[a];
        for (int a = 0; a < k; ++a) s.b[a] = noise * s.xtt[a] + pm[a];
        if (!CholeskyLower(s.a.data(), k)) {
          failed = true;
          continue;
        }
        SolveLower(s.a.data(), k, s.b.data());
        math::Rng rng(StreamSeed(params_.seed, sweep, side, static_cast<uint64_t>(row)));
        for (int a = 0; a < k; ++a) s.b[a] += rng.Normal();
        SolveLowerTransposed(s.a.data(), k, s.b.data());
        float* out = solve.row(row);
        for (int a = 0; a < k; ++a) out[a] = static_cast<float>(s.b[a]);
      }
    });
    if (failed)
      return absl::InternalError(
          "Gibbs sampler diverged: a row's precision is not positive definite");
    return absl::OkStatus();
  };
  if (gibbs) {
    for (int w = 0; w < params_.warm_start; ++w) {
      als_half(by_user, theta_items_, theta_users_);
      als_half(by_item, theta_users_, theta_items_);
    }
  }
  const int burn_in = params_.BurnIn();
  for (int it = 1; it <= params_.iterations; ++it) {
    if (gibbs) {
      if (params_.noise_precision == 0) sample_noise(it);
      if (absl::Status st = gibbs_half(by_user, theta_items_, theta_users_, it, 0); !st.ok())
        return st;
      if (absl::Status st = gibbs_half(by_item, theta_users_, theta_items_, it, 1); !st.ok())
        return st;
      if (it > burn_in) {
        ++samples_;
        for (size_t i = 0; i < sum_users_.size(); ++i) sum_users_[i] += theta_users_.data()[i];
        for (size_t i = 0; i < sum_items_.size(); ++i) sum_items_[i] += theta_items_.data()[i];
        for (size_t j = 0; j < tracked_.size(); ++j) {
          const auto [u, i] = tracked_[j];
          sum_tracked_[j] += PredictTheta(u >= 0 ? theta_users_.row(u) : nullptr,
                                          i >= 0 ? theta_items_.row(i) : nullptr);
        }
      }
    } else {
      als_half(by_user, theta_items_, theta_users_);
      als_half(by_item, theta_users_, theta_items_);
    }
    Publish();
    if (callback && !callback(it)) break;
  }
  return absl::OkStatus();
}

void ExplicitAls::Publish() {
  const int64_t d = params_.factors, k = d + 1;
  users_.Resize(theta_users_.rows(), d);
  items_.Resize(theta_items_.rows(), d);
  user_bias_.resize(theta_users_.rows());
  item_bias_.resize(theta_items_.rows());
  auto copy = [&](const math::Matrix& theta, const std::vector<double>& sums, math::Matrix& f,
                  std::vector<float>& bias) {
    const bool mean = samples_ > 0;
    for (int64_t r = 0; r < theta.rows(); ++r) {
      float* out = f.row(r);
      for (int64_t a = 0; a < k; ++a) {
        const float v = mean ? static_cast<float>(sums[r * k + a] / samples_) : theta.row(r)[a];
        if (a < d) {
          out[a] = v;
        } else {
          bias[r] = v;
        }
      }
    }
  };
  copy(theta_users_, sum_users_, users_, user_bias_);
  copy(theta_items_, sum_items_, items_, item_bias_);
}

float ExplicitAls::PredictTheta(const float* user, const float* item) const {
  const int d = params_.factors;
  float r = mu_;
  if (user != nullptr) r += user[d];
  if (item != nullptr) r += item[d];
  if (user != nullptr && item != nullptr) r += math::Dot(user, item, d);
  return std::clamp(r, min_rating_, max_rating_);
}

float ExplicitAls::TrackedPrediction(size_t j) const {
  if (samples_ > 0) return static_cast<float>(sum_tracked_[j] / samples_);
  return Predict(tracked_[j].first, tracked_[j].second);
}

float ExplicitAls::Predict(int32_t user, int32_t item) const {
  float r = mu_;
  if (user >= 0) r += user_bias_[user];
  if (item >= 0) r += item_bias_[item];
  if (user >= 0 && item >= 0) r += math::Dot(users_.row(user), items_.row(item), users_.cols());
  return std::clamp(r, min_rating_, max_rating_);
}

double ExplicitAls::Loss(const math::CsrMatrix& by_user) const {
  double se = 0;
  for (int64_t u = 0; u < by_user.rows; ++u) {
    for (int64_t p = by_user.indptr[u]; p < by_user.indptr[u + 1]; ++p) {
      const double e = by_user.values[p] - Predict(static_cast<int32_t>(u), by_user.indices[p]);
      se += e * e;
    }
  }
  return std::sqrt(se / std::max<int64_t>(1, by_user.nnz()));
}

}  // namespace recstack::training
