#include "common/math/kernels.h"

#define RECSTACK_MULTIVERSION __attribute__((target_clones("avx512f", "arch=haswell", "default")))

namespace recstack::math {

RECSTACK_MULTIVERSION
float Dot(const float* a, const float* b, int64_t n) {
  // Eight partial sums let the compiler vectorise without -ffast-math.
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

RECSTACK_MULTIVERSION
void Axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

RECSTACK_MULTIVERSION
void RowDots(const float* m, int64_t rows, int64_t d, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = m + r * d;
    float acc[16] = {};
    int64_t i = 0;
    for (; i + 16 <= d; i += 16) {
      for (int j = 0; j < 16; ++j) acc[j] += row[i + j] * x[i + j];
    }
    // Pairwise reduction: vector adds instead of a 16-long serial chain,
    // which at d = 64 would cost more than the products themselves.
    for (int j = 0; j < 8; ++j) acc[j] += acc[j + 8];
    for (int j = 0; j < 4; ++j) acc[j] += acc[j + 4];
    for (int j = 0; j < 2; ++j) acc[j] += acc[j + 2];
    float s = acc[0] + acc[1];
    for (; i < d; ++i) s += row[i] * x[i];
    out[r] = s;
  }
}

}  // namespace recstack::math
