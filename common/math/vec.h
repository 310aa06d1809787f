#pragma once

// Portable fixed-width float vectors (GCC vector extensions) for kernel
// bodies written once and compiled per SIMD level: a body templated on the
// width W and marked always_inline is inlined into a RECSTACK_TARGET_AVX2 /
// _AVX512 wrapper (common/math/simd.h), where VecF<8> becomes one ymm and
// VecF<16> one zmm register; in the default (SSE2) variant VecF<4> is one
// xmm. Lane-wise partial sums keep the order of additions fixed, so no
// -ffast-math is needed and each variant is deterministic.

namespace recstack::math::vec {

template <int W>
struct VecOf {
  typedef float type __attribute__((vector_size(W * sizeof(float))));
};
template <int W>
using VecF = typename VecOf<W>::type;

#define RECSTACK_INLINE inline __attribute__((always_inline))

template <int W>
RECSTACK_INLINE VecF<W> Load(const float* p) {
  VecF<W> v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}

template <int W>
RECSTACK_INLINE void Store(float* p, VecF<W> v) {
  __builtin_memcpy(p, &v, sizeof(v));
}

// Every lane s: one broadcast (vbroadcastss, from memory when s is loaded).
// `{} + s` would add 0.0f first, which the compiler must keep without
// -ffast-math (it turns -0 into +0), and a lane-by-lane fill becomes a chain
// of inserts; s - 0.0f is s for every s, so the subtraction folds away.
template <int W>
RECSTACK_INLINE VecF<W> Splat(float s) {
  return s - VecF<W>{};
}

// Pairwise sum of the lanes.
template <int W>
RECSTACK_INLINE float HSum(VecF<W> v) {
  float lanes[W];
  __builtin_memcpy(lanes, &v, sizeof(v));
  for (int w = W / 2; w >= 1; w /= 2) {
    for (int i = 0; i < w; ++i) lanes[i] += lanes[i + w];
  }
  return lanes[0];
}

}  // namespace recstack::math::vec
