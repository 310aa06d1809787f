#include "common/mf/sampling.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/math/simd.h"

namespace recstack::mf {

double SampleGamma(math::Rng& rng, double shape) {
  if (shape < 1) {
    // Gamma(a) = Gamma(a + 1) * U^(1/a).
    return SampleGamma(rng, shape + 1) * std::pow(rng.UniformOpen(), 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x, v;
    do {
      x = rng.Normal();
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = rng.UniformOpen();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

namespace {

// Right-looking (outer-product) form: after column j is scaled, its rank-1
// update of the trailing rows is a contiguous axpy per row, which each SIMD
// variant vectorises (the dot-product form's reduction would not be without
// reassociation). Only the lower triangle is read and written.
inline __attribute__((always_inline)) bool CholeskyLowerBody(double* __restrict a, int n) {
  constexpr int kStack = 160;
  double stack_col[kStack];
  std::vector<double> heap_col(n > kStack ? n : 0);
  double* __restrict col = n > kStack ? heap_col.data() : stack_col;
  for (int j = 0; j < n; ++j) {
    const double s = a[static_cast<int64_t>(j) * n + j];
    if (!(s > 0)) return false;
    const double ljj = std::sqrt(s), inv = 1.0 / ljj;
    a[static_cast<int64_t>(j) * n + j] = ljj;
    for (int i = j + 1; i < n; ++i) {
      double& aij = a[static_cast<int64_t>(i) * n + j];
      aij *= inv;
      col[i] = aij;
    }
    for (int i = j + 1; i < n; ++i) {
      double* __restrict ai = a + static_cast<int64_t>(i) * n;
      const double lij = col[i];
      for (int p = j + 1; p <= i; ++p) ai[p] -= lij * col[p];
    }
  }
  return true;
}

bool CholeskyLowerDefault(double* a, int n) { return CholeskyLowerBody(a, n); }
RECSTACK_TARGET_AVX2 bool CholeskyLowerAvx2(double* a, int n) { return CholeskyLowerBody(a, n); }
RECSTACK_TARGET_AVX512 bool CholeskyLowerAvx512(double* a, int n) {
  return CholeskyLowerBody(a, n);
}

typedef double BatchVec __attribute__((vector_size(kCholeskyBatch * sizeof(double))));
inline __attribute__((always_inline)) BatchVec LoadBatch(const double* p) {
  BatchVec v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
inline __attribute__((always_inline)) void StoreBatch(double* p, BatchVec v) {
  __builtin_memcpy(p, &v, sizeof(v));
}

// Row-oriented (Cholesky-Banachiewicz) over packed rows: L_ij = (a_ij -
// <L_i,:j, L_j,:j>) / L_jj, each product a vector op across the batch's
// matrices, four j at a time so that four independent sums are in flight
// (each lane's order of additions is fixed).
inline __attribute__((always_inline)) void CholeskyLowerBatchBody(double* __restrict a, int n,
                                                                  bool* __restrict ok) {
  constexpr int B = kCholeskyBatch;
  using VecD = BatchVec;
  // Loads and stores are always-inline functions called directly, not
  // lambdas: a lambda is a function of its own, compiled for the default
  // target, and passing a 256-bit vector to it from the AVX2 variant breaks
  // the ABI under Clang at -O0 (lanes came back wrong in the sanitizer build).
  auto row = [&](int i) { return a + static_cast<int64_t>(i) * (i + 1) / 2 * B; };
  alignas(64) double inv_diag_buf[B * 1024];  // n <= 1024 (AlsParams::factors + 1 <= 1025)
  std::vector<double> heap;
  double* inv_diag = inv_diag_buf;
  if (n > 1024) {
    heap.resize(static_cast<size_t>(n) * B);
    inv_diag = heap.data();
  }
  for (int m = 0; m < B; ++m) ok[m] = true;
  for (int i = 0; i < n; ++i) {
    double* __restrict li = row(i);
    int j = 0;
    for (; j + 4 <= i; j += 4) {
      const double* l0 = row(j);
      const double* l1 = row(j + 1);
      const double* l2 = row(j + 2);
      const double* l3 = row(j + 3);
      VecD s0 = LoadBatch(li + j * B), s1 = LoadBatch(li + (j + 1) * B),
           s2 = LoadBatch(li + (j + 2) * B), s3 = LoadBatch(li + (j + 3) * B);
      for (int p = 0; p < j; ++p) {
        const VecD lip = LoadBatch(li + p * B);
        s0 -= lip * LoadBatch(l0 + p * B);
        s1 -= lip * LoadBatch(l1 + p * B);
        s2 -= lip * LoadBatch(l2 + p * B);
        s3 -= lip * LoadBatch(l3 + p * B);
      }
      // The last three columns' sums also need the block's own earlier
      // columns.
      s0 *= LoadBatch(inv_diag + j * B);
      StoreBatch(li + j * B, s0);
      s1 -= s0 * LoadBatch(l1 + j * B);
      s1 *= LoadBatch(inv_diag + (j + 1) * B);
      StoreBatch(li + (j + 1) * B, s1);
      s2 -= s0 * LoadBatch(l2 + j * B) + s1 * LoadBatch(l2 + (j + 1) * B);
      s2 *= LoadBatch(inv_diag + (j + 2) * B);
      StoreBatch(li + (j + 2) * B, s2);
      s3 -= s0 * LoadBatch(l3 + j * B) + s1 * LoadBatch(l3 + (j + 1) * B) +
            s2 * LoadBatch(l3 + (j + 2) * B);
      s3 *= LoadBatch(inv_diag + (j + 3) * B);
      StoreBatch(li + (j + 3) * B, s3);
    }
    for (; j <= i; ++j) {
      const double* __restrict lj = row(j);
      VecD s = LoadBatch(li + j * B);
      for (int p = 0; p < j; ++p) s -= LoadBatch(li + p * B) * LoadBatch(lj + p * B);
      if (j < i) {
        StoreBatch(li + j * B, s * LoadBatch(inv_diag + j * B));
      } else {
        for (int m = 0; m < B; ++m) {
          const bool pos = s[m] > 0;
          ok[m] = ok[m] && pos;
          const double l = pos ? std::sqrt(s[m]) : 1.0;
          li[i * B + m] = l;
          inv_diag[i * B + m] = 1.0 / l;
        }
      }
    }
  }
}

void CholeskyLowerBatchDefault(double* a, int n, bool* ok) { CholeskyLowerBatchBody(a, n, ok); }
RECSTACK_TARGET_AVX2 void CholeskyLowerBatchAvx2(double* a, int n, bool* ok) {
  CholeskyLowerBatchBody(a, n, ok);
}
RECSTACK_TARGET_AVX512 void CholeskyLowerBatchAvx512(double* a, int n, bool* ok) {
  CholeskyLowerBatchBody(a, n, ok);
}

using CholeskyBatchFn = void(double*, int, bool*);
constexpr math::SimdVariants<CholeskyBatchFn> kCholeskyBatchFns{
    CholeskyLowerBatchDefault, CholeskyLowerBatchAvx2, CholeskyLowerBatchAvx512};

using CholeskyFn = bool(double*, int);
constexpr math::SimdVariants<CholeskyFn> kCholesky{CholeskyLowerDefault, CholeskyLowerAvx2,
                                                   CholeskyLowerAvx512};

}  // namespace

bool CholeskyLower(double* a, int n) {
  static CholeskyFn* const fn = kCholesky.For(math::ActiveSimdLevel());
  return fn(a, n);
}

bool CholeskyLowerAt(math::SimdLevel level, double* a, int n) { return kCholesky.For(level)(a, n); }

void CholeskyLowerBatch(double* a, int n, bool* ok) {
  static CholeskyBatchFn* const fn = kCholeskyBatchFns.For(math::ActiveSimdLevel());
  fn(a, n, ok);
}

void CholeskyLowerBatchAt(math::SimdLevel level, double* a, int n, bool* ok) {
  kCholeskyBatchFns.For(level)(a, n, ok);
}

void SolveLowerBatch(const double* l, int n, int m, double* b) {
  constexpr int B = kCholeskyBatch;
  for (int i = 0; i < n; ++i) {
    const double* li = l + static_cast<int64_t>(i) * (i + 1) / 2 * B + m;
    double s = b[i];
    for (int p = 0; p < i; ++p) s -= li[p * B] * b[p];
    b[i] = s / li[i * B];
  }
}

void SolveLowerTransposedBatch(const double* l, int n, int m, double* b) {
  constexpr int B = kCholeskyBatch;
  for (int i = n - 1; i >= 0; --i) {
    const double* li = l + static_cast<int64_t>(i) * (i + 1) / 2 * B + m;
    const double s = b[i] / li[i * B];
    b[i] = s;
    for (int p = 0; p < i; ++p) b[p] -= li[p * B] * s;
  }
}

void SolveLower(const double* l, int n, double* b) {
  for (int i = 0; i < n; ++i) {
    const double* li = l + static_cast<int64_t>(i) * n;
    double s = b[i];
    for (int p = 0; p < i; ++p) s -= li[p] * b[p];
    b[i] = s / li[i];
  }
}

void SolveLowerTransposed(const double* l, int n, double* b) {
  for (int i = n - 1; i >= 0; --i) {
    const double s = b[i] / l[static_cast<int64_t>(i) * n + i];
    b[i] = s;
    // Column i of L is row i of L^T: subtract it from the rows above.
    const double* li = l + static_cast<int64_t>(i) * n;
    for (int p = 0; p < i; ++p) b[p] -= li[p] * s;
  }
}

absl::StatusOr<GaussianPrior> SampleNormalWishart(const float* theta, int64_t n, int k,
                                                  double beta0, math::Rng& rng) {
  std::vector<double> mean(k, 0.0), scatter(static_cast<size_t>(k) * k, 0.0), centered(k);
  for (int64_t r = 0; r < n; ++r) {
    for (int a = 0; a < k; ++a) mean[a] += theta[r * k + a];
  }
  for (int a = 0; a < k; ++a) mean[a] /= static_cast<double>(std::max<int64_t>(n, 1));
  for (int64_t r = 0; r < n; ++r) {
    for (int a = 0; a < k; ++a) centered[a] = theta[r * k + a] - mean[a];
    for (int a = 0; a < k; ++a) {
      for (int b = 0; b <= a; ++b) scatter[a * k + b] += centered[a] * centered[b];
    }
  }
  // Posterior: beta = beta0 + n, nu = nu0 + n, mu = n xbar / (beta0 + n),
  // W^-1 = W0^-1 + n S + beta0 n / (beta0 + n) xbar xbar^T (mu0 = 0).
  const double nd = static_cast<double>(n), beta = beta0 + nd, nu = k + nd;
  const double shrink = beta0 * nd / beta;
  std::vector<double> w_inv(static_cast<size_t>(k) * k);
  for (int a = 0; a < k; ++a) {
    for (int b = 0; b <= a; ++b) {
      w_inv[a * k + b] = scatter[a * k + b] + shrink * mean[a] * mean[b] + (a == b ? 1.0 : 0.0);
    }
  }
  if (!CholeskyLower(w_inv.data(), k)) {
    return absl::InternalError(
        "Gibbs sampler diverged: the Normal-Wishart scale is not positive definite");
  }
  // Bartlett: Lambda = B A A^T B^T with B B^T = W; B = L^-T for W^-1 = L L^T.
  // A is lower triangular, A_jj^2 ~ chi2(nu - j), A_ij ~ N(0, 1) below.
  std::vector<double> ba(static_cast<size_t>(k) * k, 0.0), col(k);
  for (int j = 0; j < k; ++j) {
    std::fill(col.begin(), col.end(), 0.0);
    col[j] = std::sqrt(2.0 * SampleGamma(rng, (nu - j) / 2.0));
    for (int i = j + 1; i < k; ++i) col[i] = rng.Normal();
    SolveLowerTransposed(w_inv.data(), k, col.data());
    for (int i = 0; i < k; ++i) ba[i * k + j] = col[i];
  }
  GaussianPrior prior;
  prior.precision.assign(static_cast<size_t>(k) * k, 0.0);
  for (int a = 0; a < k; ++a) {
    for (int b = 0; b <= a; ++b) {
      double s = 0;
      for (int p = 0; p < k; ++p) s += ba[a * k + p] * ba[b * k + p];
      prior.precision[a * k + b] = prior.precision[b * k + a] = s;
    }
  }
  // mean ~ N(mu, (beta Lambda)^-1): mu + chol(beta Lambda)^-T z.
  std::vector<double> l(prior.precision);
  for (double& x : l) x *= beta;
  if (!CholeskyLower(l.data(), k)) {
    return absl::InternalError(
        "Gibbs sampler diverged: a sampled precision is not positive definite");
  }
  std::vector<double> z(k);
  for (int a = 0; a < k; ++a) z[a] = rng.Normal();
  SolveLowerTransposed(l.data(), k, z.data());
  prior.mean.resize(k);
  for (int a = 0; a < k; ++a) prior.mean[a] = nd * mean[a] / beta + z[a];
  return prior;
}

}  // namespace recstack::mf
