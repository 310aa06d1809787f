#pragma once

// Small dense kernels on the hot paths of ALS and scoring. The build is
// generic x86-64; each kernel is compiled for AVX-512, AVX2+FMA and the
// baseline, and the variant is chosen once by CPU features
// (common/math/simd.h, RECSTACK_SIMD lowers it).

#include <cstdint>

#include "common/math/simd.h"

namespace recstack::math {

float Dot(const float* a, const float* b, int64_t n);
// y += alpha * x
void Axpy(float alpha, const float* x, float* y, int64_t n);
// out[i] = dot(m + i * d, x) for i in [0, rows): a row-major matrix-vector
// product that, unlike sgemv, is tuned for d <= 256.
void RowDots(const float* m, int64_t rows, int64_t d, const float* x, float* out);

// The same kernels at an explicit level (tests compare the variants); the
// level must not exceed DetectSimdLevel().
float DotAt(SimdLevel level, const float* a, const float* b, int64_t n);
void AxpyAt(SimdLevel level, float alpha, const float* x, float* y, int64_t n);
void RowDotsAt(SimdLevel level, const float* m, int64_t rows, int64_t d, const float* x,
               float* out);

}  // namespace recstack::math
