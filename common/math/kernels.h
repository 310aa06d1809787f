#pragma once

// Small dense kernels on the hot paths of ALS and scoring. The build is
// generic x86-64; these are compiled for AVX-512, AVX2+FMA and baseline and
// the loader picks the best for the CPU (GCC function multi-versioning).

#include <cstdint>

namespace recstack::math {

float Dot(const float* a, const float* b, int64_t n);
// y += alpha * x
void Axpy(float alpha, const float* x, float* y, int64_t n);
// out[i] = dot(m + i * d, x) for i in [0, rows): a row-major matrix-vector
// product that, unlike sgemv, is tuned for d <= 256.
void RowDots(const float* m, int64_t rows, int64_t d, const float* x, float* out);

}  // namespace recstack::math
