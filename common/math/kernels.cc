#include "common/math/kernels.h"

#include "common/math/simd.h"
#include "common/math/vec.h"

namespace recstack::math {
namespace {

using vec::HSum;
using vec::Load;
using vec::Splat;
using vec::VecF;

// Two W-wide partial sums, then the lanes pairwise; the tail in scalar.
template <int W>
RECSTACK_INLINE float DotBody(const float* a, const float* b, int64_t n) {
  VecF<W> acc0{}, acc1{};
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    acc0 += Load<W>(a + i) * Load<W>(b + i);
    acc1 += Load<W>(a + i + W) * Load<W>(b + i + W);
  }
  for (; i + W <= n; i += W) acc0 += Load<W>(a + i) * Load<W>(b + i);
  float s = HSum<W>(acc0 + acc1);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

RECSTACK_INLINE void AxpyBody(float alpha, const float* __restrict x, float* __restrict y,
                              int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <int W>
RECSTACK_INLINE void RowDotsBody(const float* m, int64_t rows, int64_t d, const float* x,
                                 float* out) {
  for (int64_t r = 0; r < rows; ++r) out[r] = DotBody<W>(m + r * d, x, d);
}

float DotDefault(const float* a, const float* b, int64_t n) { return DotBody<4>(a, b, n); }
RECSTACK_TARGET_AVX2 float DotAvx2(const float* a, const float* b, int64_t n) {
  return DotBody<8>(a, b, n);
}
RECSTACK_TARGET_AVX512 float DotAvx512(const float* a, const float* b, int64_t n) {
  return DotBody<16>(a, b, n);
}

void AxpyDefault(float alpha, const float* x, float* y, int64_t n) { AxpyBody(alpha, x, y, n); }
RECSTACK_TARGET_AVX2 void AxpyAvx2(float alpha, const float* x, float* y, int64_t n) {
  AxpyBody(alpha, x, y, n);
}
RECSTACK_TARGET_AVX512 void AxpyAvx512(float alpha, const float* x, float* y, int64_t n) {
  AxpyBody(alpha, x, y, n);
}

void RowDotsDefault(const float* m, int64_t rows, int64_t d, const float* x, float* out) {
  RowDotsBody<4>(m, rows, d, x, out);
}
RECSTACK_TARGET_AVX2 void RowDotsAvx2(const float* m, int64_t rows, int64_t d, const float* x,
                                      float* out) {
  RowDotsBody<8>(m, rows, d, x, out);
}
RECSTACK_TARGET_AVX512 void RowDotsAvx512(const float* m, int64_t rows, int64_t d, const float* x,
                                          float* out) {
  RowDotsBody<16>(m, rows, d, x, out);
}

using DotFn = float(const float*, const float*, int64_t);
using AxpyFn = void(float, const float*, float*, int64_t);
using RowDotsFn = void(const float*, int64_t, int64_t, const float*, float*);

constexpr SimdVariants<DotFn> kDot{DotDefault, DotAvx2, DotAvx512};
constexpr SimdVariants<AxpyFn> kAxpy{AxpyDefault, AxpyAvx2, AxpyAvx512};
constexpr SimdVariants<RowDotsFn> kRowDots{RowDotsDefault, RowDotsAvx2, RowDotsAvx512};

}  // namespace

float Dot(const float* a, const float* b, int64_t n) {
  static DotFn* const fn = kDot.For(ActiveSimdLevel());
  return fn(a, b, n);
}

void Axpy(float alpha, const float* x, float* y, int64_t n) {
  static AxpyFn* const fn = kAxpy.For(ActiveSimdLevel());
  fn(alpha, x, y, n);
}

void RowDots(const float* m, int64_t rows, int64_t d, const float* x, float* out) {
  static RowDotsFn* const fn = kRowDots.For(ActiveSimdLevel());
  fn(m, rows, d, x, out);
}

float DotAt(SimdLevel level, const float* a, const float* b, int64_t n) {
  return kDot.For(level)(a, b, n);
}

void AxpyAt(SimdLevel level, float alpha, const float* x, float* y, int64_t n) {
  kAxpy.For(level)(alpha, x, y, n);
}

void RowDotsAt(SimdLevel level, const float* m, int64_t rows, int64_t d, const float* x,
               float* out) {
  kRowDots.For(level)(m, rows, d, x, out);
}

}  // namespace recstack::math
