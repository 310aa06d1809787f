#pragma once

// The random draws of the Gibbs sampler for explicit ratings (Bayesian
// probabilistic matrix factorization, Salakhutdinov and Mnih 2008): gamma
// and Wishart variates and the Normal-Wishart posterior of a side's prior,
// all from math::Rng so a seed fixes every draw on every platform. Dense
// k x k matrices are row-major doubles.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/math/rng.h"
#include "common/math/simd.h"

namespace recstack::mf {

// Gamma(shape, scale 1) by Marsaglia and Tsang (2000); shape > 0.
double SampleGamma(math::Rng& rng, double shape);

// Lower Cholesky factor of the SPD matrix a (n x n) in place (the upper
// triangle is left as is). False if a is not positive definite.
bool CholeskyLower(double* a, int n);
// The same at an explicit SIMD level (tests compare the variants).
bool CholeskyLowerAt(math::SimdLevel level, double* a, int n);
// Matrices CholeskyLowerBatch factors together.
inline constexpr int kCholeskyBatch = 4;
// Lower Cholesky factors of kCholeskyBatch SPD n x n matrices at once, SIMD
// across the matrices (one lane each). Their lower triangles are packed and
// interleaved: element (i, j <= i) of matrix m at
// a[(i * (i + 1) / 2 + j) * kCholeskyBatch + m]. ok[m] is false where matrix
// m is not positive definite (its factor is then not meaningful).
void CholeskyLowerBatch(double* a, int n, bool* ok);
// The same at an explicit SIMD level.
void CholeskyLowerBatchAt(math::SimdLevel level, double* a, int n, bool* ok);
// SolveLower and SolveLowerTransposed with matrix m of CholeskyLowerBatch's
// packed factors.
void SolveLowerBatch(const double* l, int n, int m, double* b);
void SolveLowerTransposedBatch(const double* l, int n, int m, double* b);
// Solves L y = b (forward) and L^T x = b (backward) in place, L from
// CholeskyLower.
void SolveLower(const double* l, int n, double* b);
void SolveLowerTransposed(const double* l, int n, double* b);

// The prior of one side's rows theta (each k = factors + 1 long: the factors
// and the bias): theta ~ N(mean, precision^-1).
struct GaussianPrior {
  std::vector<double> mean;       // k
  std::vector<double> precision;  // k x k
};

// Draws (mean, precision) from the Normal-Wishart posterior given the rows
// theta (n x k floats, row-major) under the hyperprior mu0 = 0, beta0,
// W0 = I, nu0 = k (BPMF's choice). An error only if theta holds non-finite
// values (a diverged chain).
absl::StatusOr<GaussianPrior> SampleNormalWishart(const float* theta, int64_t n, int k,
                                                  double beta0, math::Rng& rng);

}  // namespace recstack::mf
