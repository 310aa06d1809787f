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

absl::Status ExplicitAls::Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                              const IterationCallback& callback) {
  if (absl::Status st = params_.Validate(); !st.ok()) return st;
  if (by_user.nnz() == 0) return absl::InvalidArgumentError("no ratings to train on");
  const int d = params_.factors;
  double sum = 0;
  min_rating_ = by_user.values[0];
  max_rating_ = by_user.values[0];
  for (float v : by_user.values) {
    sum += v;
    min_rating_ = std::min(min_rating_, v);
    max_rating_ = std::max(max_rating_, v);
  }
  mu_ = static_cast<float>(sum / by_user.nnz());
  RandomInit(users_, by_user.rows, d, params_.seed, 0.1f);
  RandomInit(items_, by_user.cols, d, params_.seed + 1, 0.1f);
  user_bias_.assign(by_user.rows, 0.0f);
  item_bias_.assign(by_user.cols, 0.0f);
  const int k = d + 1;
  // One side: rows of `m` against the fixed factors/biases of the other.
  auto half = [&](const math::CsrMatrix& m, const math::Matrix& fixed, const std::vector<float>& fixed_bias,
                  math::Matrix& solve, std::vector<float>& bias) {
    std::vector<std::vector<float>> bufs(params_.threads, std::vector<float>(k * k + k));
    ParallelFor(m.rows, params_.threads, 32, [&](int64_t b, int64_t e, int t) {
      float* a = bufs[t].data();
      float* rhs = a + k * k;
      for (int64_t row = b; row < e; ++row) {
        const int64_t s = m.indptr[row], n = m.indptr[row + 1] - s;
        if (n == 0) continue;
        std::fill(a, a + k * k + k, 0.0f);
        for (int64_t p = s; p < s + n; ++p) {
          const int32_t j = m.indices[p];
          const float* y = fixed.row(j);
          const float target = m.values[p] - mu_ - fixed_bias[j];
          // Augmented feature [y, 1] for the factors and this row's bias.
          for (int a1 = 0; a1 < k; ++a1) {
            const float ya = a1 < d ? y[a1] : 1.0f;
            rhs[a1] += ya * target;
            for (int a2 = 0; a2 <= a1; ++a2) a[a1 * k + a2] += ya * (a2 < d ? y[a2] : 1.0f);
          }
        }
        for (int a1 = 0; a1 < k; ++a1) {
          for (int a2 = 0; a2 < a1; ++a2) a[a2 * k + a1] = a[a1 * k + a2];
          const float reg = a1 < d || params_.bias_regularization < 0 ? params_.regularization
                                                                      : params_.bias_regularization;
          a[a1 * k + a1] += reg * std::pow(static_cast<float>(n), params_.reg_exponent);
        }
        if (CholeskySolve(a, rhs, k)) {
          std::copy(rhs, rhs + d, solve.row(row));
          bias[row] = rhs[d];
        }
      }
    });
  };
  for (int it = 1; it <= params_.iterations; ++it) {
    half(by_user, items_, item_bias_, users_, user_bias_);
    half(by_item, users_, user_bias_, items_, item_bias_);
    if (callback && !callback(it)) break;
  }
  return absl::OkStatus();
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
