#pragma once

// A typed facade over OpenBLAS (cblas), row-major throughout. Sizes follow
// BLAS: C (m x n) = alpha * A (m x k) * B (k x n) + beta * C.

#include <cstdint>

namespace recstack::math {

// OpenBLAS's own thread count (0 = leave as is). Training sets 1 inside its
// per-row loops, benchmarks set it explicitly.
void SetBlasThreads(int threads);
int BlasThreads();

// C = alpha * op(A) * op(B) + beta * C, all row-major.
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// y = alpha * op(A) * x + beta * y; A is rows x cols row-major.
void Gemv(bool trans, int64_t rows, int64_t cols, float alpha, const float* a, int64_t lda,
          const float* x, float beta, float* y);
// C (n x n, upper and lower filled) = alpha * A^T A + beta * C, A is k x n row-major.
void SyrkAtA(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c);

}  // namespace recstack::math
