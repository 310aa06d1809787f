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

// Every lane s. `s - {}` (which folds the add of 0.0f away) was tried on
// 2026-12-01 and made implicit ALS's CG steps 30% slower on the AVX-512
// path (synth5m solve 0.26 -> 0.34 s per iteration, iALS++ no faster), so
// the add stays; the iALS++ rank-1 updates broadcast from memory
// (SplatFromMemory in common/mf/als.cc).
template <int W>
RECSTACK_INLINE VecF<W> Splat(float s) {
  return VecF<W>{} + s;
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
