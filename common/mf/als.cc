#include "common/mf/als.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/math/blas.h"
#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "common/math/simd.h"
#include "common/math/vec.h"
#include "common/mf/sampling.h"
#include "common/status/macros.h"

namespace recstack::mf {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

using math::SimdLevel;
using math::vec::HSum;
using math::vec::Load;
using math::vec::Splat;
using math::vec::Store;
using math::vec::VecF;

// Rows longer than this are read in place (through their indices) instead of
// being gathered into the per-thread block, which bounds the scratch.
constexpr int64_t kMaxGather = 4096;

// One row's system in the gathered form the kernels below share: its n
// nonzeros' factor rows (contiguous when gathered, else read through the
// indices) and confidences.
struct RowBlock {
  const float* y;         // the fixed side's factors, rows x d
  const int32_t* items;   // nullptr when gathered
  const float* gathered;  // n x d when gathered
  const float* conf;      // n confidences c_j
  int64_t n;
  RECSTACK_INLINE const float* Row(int64_t j, int d) const {
    return items == nullptr ? gathered + j * d : y + static_cast<int64_t>(items[j]) * d;
  }
};

// Lane-parallel dot product (fixed order per variant).
template <int W>
RECSTACK_INLINE float DotW(const float* a, const float* b, int d) {
  VecF<W> acc0{}, acc1{};
  int i = 0;
  for (; i + 2 * W <= d; i += 2 * W) {
    acc0 += Load<W>(a + i) * Load<W>(b + i);
    acc1 += Load<W>(a + i + W) * Load<W>(b + i + W);
  }
  for (; i + W <= d; i += W) acc0 += Load<W>(a + i) * Load<W>(b + i);
  float s = HSum<W>(acc0 + acc1);
  for (; i < d; ++i) s += a[i] * b[i];
  return s;
}

// out = G v for the symmetric d x d G, as sum_b v[b] G[b, :] (no horizontal
// sums). kD > 0: d known at compile time, the accumulators live in registers.
template <int W, int kD>
RECSTACK_INLINE void GramTimes(const float* __restrict g, const float* __restrict v,
                               float* __restrict out, int d_rt) {
  if constexpr (kD > 0 && kD % W == 0) {
    constexpr int C = kD / W;
    VecF<W> acc[C] = {};
    for (int b = 0; b < kD; ++b) {
      const VecF<W> vb = Splat<W>(v[b]);
      const float* gb = g + b * kD;
      for (int c = 0; c < C; ++c) acc[c] += vb * Load<W>(gb + c * W);
    }
    for (int c = 0; c < C; ++c) Store<W>(out + c * W, acc[c]);
  } else {
    const int d = d_rt;
    for (int a = 0; a < d; ++a) out[a] = 0;
    for (int b = 0; b < d; ++b) {
      const float vb = v[b];
      const float* gb = g + b * d;
      for (int a = 0; a < d; ++a) out[a] += vb * gb[a];
    }
  }
}

// q[j] = <row j, v> for the block's rows, four rows at a time.
template <int W, int kD>
RECSTACK_INLINE void BlockDots(const RowBlock& blk, const float* __restrict v, float* __restrict q,
                               int d_rt) {
  const int d = kD > 0 ? kD : d_rt;
  int64_t j = 0;
  if constexpr (kD > 0 && kD % W == 0) {
    for (; j + 4 <= blk.n; j += 4) {
      const float* r0 = blk.Row(j, d);
      const float* r1 = blk.Row(j + 1, d);
      const float* r2 = blk.Row(j + 2, d);
      const float* r3 = blk.Row(j + 3, d);
      VecF<W> a0{}, a1{}, a2{}, a3{};
      for (int c = 0; c < kD; c += W) {
        const VecF<W> vc = Load<W>(v + c);
        a0 += Load<W>(r0 + c) * vc;
        a1 += Load<W>(r1 + c) * vc;
        a2 += Load<W>(r2 + c) * vc;
        a3 += Load<W>(r3 + c) * vc;
      }
      q[j] = HSum<W>(a0);
      q[j + 1] = HSum<W>(a1);
      q[j + 2] = HSum<W>(a2);
      q[j + 3] = HSum<W>(a3);
    }
  }
  for (; j < blk.n; ++j) q[j] = DotW<W>(blk.Row(j, d), v, d);
}

// out += sum_j w[j] row j.
template <int W, int kD>
RECSTACK_INLINE void BlockAccumulate(const RowBlock& blk, const float* __restrict w,
                                     float* __restrict out, int d_rt) {
  if constexpr (kD > 0 && kD % W == 0) {
    constexpr int C = kD / W;
    VecF<W> acc[C];
    for (int c = 0; c < C; ++c) acc[c] = Load<W>(out + c * W);
    for (int64_t j = 0; j < blk.n; ++j) {
      const VecF<W> wj = Splat<W>(w[j]);
      const float* r = blk.Row(j, kD);
      for (int c = 0; c < C; ++c) acc[c] += wj * Load<W>(r + c * W);
    }
    for (int c = 0; c < C; ++c) Store<W>(out + c * W, acc[c]);
  } else {
    const int d = d_rt;
    for (int64_t j = 0; j < blk.n; ++j) {
      const float wj = w[j];
      const float* __restrict r = blk.Row(j, d);
      for (int a = 0; a < d; ++a) out[a] += wj * r[a];
    }
  }
}

// Conjugate-gradient steps for one row, warm-started from x, as
// benfred/implicit's _als.pyx: A = G + Y_u^T (C_u - I) Y_u, b = Y_u^T C_u 1.
// Each step streams the row's block twice (dots, then the weighted sum), so
// no per-nonzero horizontal reduction feeds a dependent axpy. scratch: 3 d
// + 2 n floats.
template <int W, int kD>
RECSTACK_INLINE void CgBody(const RowBlock& blk, const float* __restrict gram, int d_rt, int steps,
                            float* __restrict x, float* __restrict scratch) {
  const int d = kD > 0 ? kD : d_rt;
  const int64_t n = blk.n;
  float* __restrict r = scratch;
  float* __restrict p = scratch + d;
  float* __restrict ap = scratch + 2 * d;
  float* __restrict q = scratch + 3 * d;
  float* __restrict w = q + n;
  // r = b - A x = sum_j (c_j - (c_j - 1) <y_j, x>) y_j - G x.
  GramTimes<W, kD>(gram, x, ap, d);
  for (int a = 0; a < d; ++a) r[a] = -ap[a];
  BlockDots<W, kD>(blk, x, q, d);
  for (int64_t j = 0; j < n; ++j) w[j] = blk.conf[j] - (blk.conf[j] - 1.0f) * q[j];
  BlockAccumulate<W, kD>(blk, w, r, d);
  for (int a = 0; a < d; ++a) p[a] = r[a];
  float rs_old = DotW<W>(r, r, d);
  for (int step = 0; step < steps; ++step) {
    if (rs_old < 1e-20f) break;
    GramTimes<W, kD>(gram, p, ap, d);
    BlockDots<W, kD>(blk, p, q, d);
    for (int64_t j = 0; j < n; ++j) w[j] = (blk.conf[j] - 1.0f) * q[j];
    BlockAccumulate<W, kD>(blk, w, ap, d);
    const float pap = DotW<W>(p, ap, d);
    if (pap <= 0) break;
    const float step_len = rs_old / pap;
    for (int a = 0; a < d; ++a) {
      x[a] += step_len * p[a];
      r[a] -= step_len * ap[a];
    }
    const float rs_new = DotW<W>(r, r, d);
    const float beta = rs_new / rs_old;
    for (int a = 0; a < d; ++a) p[a] = r[a] + beta * p[a];
    rs_old = rs_new;
  }
}

// iALS++ (Rendle, Krichene, Zhang and Koren 2021): block coordinate descent
// over subspaces of `block` dimensions. For each block S in turn, the loss
// restricted to x_S is a quadratic solved exactly:
//   (G_SS + sum_j (c_j - 1) y_jS y_jS^T) delta = r_S,  x_S += delta,
// with r = b - A x kept current through the cached predictions s_j =
// <y_j, x> and v = G x (G includes lambda I). One pass over the blocks per
// row and half-sweep. scratch: d + 2 n + block * (block + 2) floats and
// block * (block + 1) doubles.
template <int W, int kD>
RECSTACK_INLINE void SubspaceBody(const RowBlock& blk, const float* __restrict gram, int d_rt,
                                  int block, float* __restrict x, float* __restrict scratch,
                                  double* __restrict dscratch) {
  const int d = kD > 0 ? kD : d_rt;
  const int64_t n = blk.n;
  float* __restrict v = scratch;
  float* __restrict s = scratch + d;
  float* __restrict e = s + n;
  float* __restrict h = e + n;  // block x block
  float* __restrict delta = h + block * block;
  double* __restrict hd = dscratch;  // block x block
  double* __restrict rd = dscratch + block * block;
  GramTimes<W, kD>(gram, x, v, d);
  BlockDots<W, kD>(blk, x, s, d);
  for (int k0 = 0; k0 < d; k0 += block) {
    const int bs = std::min(block, d - k0);
    for (int a = 0; a < bs; ++a) {
      for (int b = 0; b < bs; ++b) h[a * bs + b] = gram[(k0 + a) * d + k0 + b];
      delta[a] = -v[k0 + a];
    }
    for (int64_t j = 0; j < n; ++j) e[j] = blk.conf[j] - (blk.conf[j] - 1.0f) * s[j];
    for (int64_t j = 0; j < n; ++j) {
      const float* __restrict y = blk.Row(j, d) + k0;
      const float cm1 = blk.conf[j] - 1.0f, ej = e[j];
      for (int a = 0; a < bs; ++a) {
        const float wa = cm1 * y[a];
        float* __restrict ha = h + a * bs;
        for (int b = 0; b < bs; ++b) ha[b] += wa * y[b];
        delta[a] += ej * y[a];
      }
    }
    for (int a = 0; a < bs * bs; ++a) hd[a] = h[a];
    for (int a = 0; a < bs; ++a) rd[a] = delta[a];
    if (!CholeskyLower(hd, bs)) continue;  // lambda 0 and a degenerate block: keep x_S
    SolveLower(hd, bs, rd);
    SolveLowerTransposed(hd, bs, rd);
    for (int a = 0; a < bs; ++a) {
      delta[a] = static_cast<float>(rd[a]);
      x[k0 + a] += delta[a];
    }
    for (int64_t j = 0; j < n; ++j) {
      const float* __restrict y = blk.Row(j, d) + k0;
      float t = 0;
      for (int a = 0; a < bs; ++a) t += y[a] * delta[a];
      s[j] += t;
    }
    for (int a = 0; a < bs; ++a) {
      const float da = delta[a];
      const float* __restrict ga = gram + (k0 + a) * d;
      for (int b = 0; b < d; ++b) v[b] += da * ga[b];
    }
  }
}

// The eight lane sums of p[0..7] as one vector (lane i = sum of p[i]'s
// lanes): a transpose-and-add tree, 14 shuffles and 7 adds for eight dot
// products instead of eight horizontal sums. Fixed order.
RECSTACK_INLINE VecF<8> LaneSums8(const VecF<8> (&p)[8]) {
  VecF<8> q[4], r[2];
  for (int i = 0; i < 4; ++i) {
    q[i] = __builtin_shufflevector(p[2 * i], p[2 * i + 1], 0, 8, 1, 9, 4, 12, 5, 13) +
           __builtin_shufflevector(p[2 * i], p[2 * i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 2; ++i) {
    r[i] = __builtin_shufflevector(q[2 * i], q[2 * i + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
           __builtin_shufflevector(q[2 * i], q[2 * i + 1], 2, 3, 10, 11, 6, 7, 14, 15);
  }
  return __builtin_shufflevector(r[0], r[1], 0, 1, 2, 3, 8, 9, 10, 11) +
         __builtin_shufflevector(r[0], r[1], 4, 5, 6, 7, 12, 13, 14, 15);
}

// <y, delta> over one block of BS (a multiple of 8) floats, as 8 lanes.
template <int BS>
RECSTACK_INLINE VecF<8> BlockDot8(const float* __restrict y, const float* __restrict delta) {
  VecF<8> acc = Load<8>(y) * Load<8>(delta);
  for (int c = 8; c < BS; c += 8) acc += Load<8>(y + c) * Load<8>(delta + c);
  return acc;
}

// Splat<V>(*p) as one broadcast load. GCC otherwise sees that *p is a lane
// of a vector just loaded from the same row and extracts it with two
// shuffles (vpermilps + vinsertf128), which saturates the shuffle port in
// the rank-1 updates below.
// W: the widest vector of the calling variant (no ymm broadcast in SSE2).
template <int W, int V>
RECSTACK_INLINE VecF<V> SplatFromMemory(const float* p) {
#if defined(__clang__)
  // Clang checks the asm operand against this template's own target (no
  // AVX before inlining) and keeps a broadcast load by itself.
  return *p - VecF<V>{};
#else
  if constexpr ((V == 8 || V == 16) && W >= V) {
    VecF<V> r;
    asm("vbroadcastss %1, %0" : "=v"(r) : "m"(*p));
    return r;
  } else {
    // s - 0.0f is s for every s (unlike math::Splat's 0.0f + s, which
    // turns -0 into +0), so the compiler folds it to a bare broadcast.
    return *p - VecF<V>{};
  }
#endif
}

// One nonzero's part of an H pass: rows a0..a0+R-1 of H (C vectors of V
// lanes each) gain y_ja (c_j - 1) y_jS. y points at y_jS, cm1 at c_j - 1.
template <int W, int V, int C, int R>
RECSTACK_INLINE void AccumulateNonzero(const float* __restrict y, const float* cm1, int a0,
                                       VecF<V> (&h)[R][C]) {
  VecF<V> z[C];
  const VecF<V> cj = SplatFromMemory<W, V>(cm1);
  for (int c = 0; c < C; ++c) z[c] = cj * Load<V>(y + c * V);
  for (int r = 0; r < R; ++r) {
    const VecF<V> ya = SplatFromMemory<W, V>(y + a0 + r);
    for (int c = 0; c < C; ++c) h[r][c] += ya * z[c];
  }
}

// Root-free Cholesky (H = L D L^T) of NB independent BS x BS SPD matrices
// at once, element (a, b) of matrix k at h[(a * BS + b) * NB + k]: the
// innermost loops run across the matrices, so they vectorise (no sqrt, one
// division per column) and the NB factorizations' dependency chains overlap
// instead of running one after another. In double. On return the strict
// lower triangle holds L and inv_d[a * NB + k] = 1 / D_aa; ok[k] is false
// where matrix k is not positive definite.
template <int BS, int NB>
RECSTACK_INLINE void BatchedLdl(double* __restrict h, double* __restrict inv_d,
                                bool* __restrict ok) {
  for (int k = 0; k < NB; ++k) ok[k] = true;
  for (int j = 0; j < BS; ++j) {
    double* __restrict hjj = h + (j * BS + j) * NB;
    // D_j = H_jj - sum_p L_jp^2 D_p (the H_jp below already hold L_jp D_p
    // until scaled: see the update).
    for (int p = 0; p < j; ++p) {
      const double* __restrict ljp = h + (j * BS + p) * NB;
      const double* __restrict idp = inv_d + p * NB;
      for (int k = 0; k < NB; ++k) hjj[k] -= ljp[k] * ljp[k] * idp[k];
    }
    double* __restrict idj = inv_d + j * NB;
    for (int k = 0; k < NB; ++k) {
      ok[k] = ok[k] && hjj[k] > 0;
      idj[k] = hjj[k] > 0 ? 1.0 / hjj[k] : 0.0;
    }
    // Column j below the diagonal: W_ij = H_ij - sum_p W_ip W_jp / D_p
    // (W = L D, unscaled); scaled to L_ij = W_ij / D_j after all rows used it.
    for (int i = j + 1; i < BS; ++i) {
      double* __restrict hij = h + (i * BS + j) * NB;
      for (int p = 0; p < j; ++p) {
        const double* __restrict wip = h + (i * BS + p) * NB;
        const double* __restrict wjp = h + (j * BS + p) * NB;
        const double* __restrict idp = inv_d + p * NB;
        for (int k = 0; k < NB; ++k) hij[k] -= wip[k] * wjp[k] * idp[k];
      }
    }
  }
  // W = L D to L.
  for (int i = 1; i < BS; ++i) {
    for (int j = 0; j < i; ++j) {
      double* __restrict hij = h + (i * BS + j) * NB;
      const double* __restrict idj = inv_d + j * NB;
      for (int k = 0; k < NB; ++k) hij[k] *= idj[k];
    }
  }
}

// Solves L D L^T delta = r with matrix k of BatchedLdl's output.
template <int BS, int NB>
RECSTACK_INLINE void LdlSolve(const double* __restrict h, const double* __restrict inv_d, int k,
                              double* __restrict r) {
  for (int i = 1; i < BS; ++i) {
    double s = r[i];
    for (int p = 0; p < i; ++p) s -= h[(i * BS + p) * NB + k] * r[p];
    r[i] = s;
  }
  for (int i = 0; i < BS; ++i) r[i] *= inv_d[i * NB + k];
  for (int i = BS - 2; i >= 0; --i) {
    double s = r[i];
    for (int p = i + 1; p < BS; ++p) s -= h[(p * BS + i) * NB + k] * r[p];
    r[i] = s;
  }
}

// iALS++ with the block size BS (8, 16 or 32) and d = kD (32, 64 or 128)
// known at compile time, BS dividing d. The same iteration as SubspaceBody,
// arranged so the hot loops stay in registers and the small solves overlap:
//  1. Every block's H = G_SS + sum_j (c_j - 1) y_jS y_jS^T first (they do
//     not depend on x): H's rows are vector accumulators (BS / V vectors of
//     V = min(BS, W) lanes each), R rows per pass over the nonzeros so that
//     at most 8 (16 with AVX-512's 32 registers) accumulators are live; each
//     nonzero adds broadcast(y_ja) * (c_j - 1) y_jS to row a.
//  2. One batched L D L^T of all d / BS blocks (BatchedLdl).
//  3. Block by block: one pass brings s_j = <y_j, x> up to date with the
//     previous block's step (eight dot products at a time, LaneSums8), forms
//     e_j = c_j - (c_j - 1) s_j and the residual sum_j e_j y_jS - (G x)_S;
//     then delta from the factors, x_S += delta, G x updated.
// scratch: d + 3 n floats (G x, s, e, c - 1).
template <int W, int kD, int BS>
RECSTACK_INLINE void SubspaceBodyFixed(const RowBlock& blk, const float* __restrict gram,
                                       float* __restrict x, float* __restrict scratch) {
  static_assert(BS % 8 == 0 && kD % BS == 0);
  constexpr int d = kD, NB = kD / BS;
  constexpr int V = BS < W ? BS : W;
  constexpr int C = BS / V;
  constexpr int kAcc = W >= 16 ? 16 : 8;
  constexpr int R = kAcc / C >= BS ? BS : (kAcc / C < 1 ? 1 : kAcc / C);
  const int64_t n = blk.n;
  float* __restrict v = scratch;
  float* __restrict s = v + d;
  float* __restrict e = s + n;
  float* __restrict cm1 = e + n;
  alignas(64) float prev[BS] = {};  // the previous block's step
  alignas(64) float hrow[BS];
  alignas(64) double hb[BS * BS * NB];
  alignas(64) double inv_d[BS * NB];
  alignas(64) double rd[BS];
  bool ok[NB];
  GramTimes<W, kD>(gram, x, v, d);
  BlockDots<W, kD>(blk, x, s, d);
  for (int64_t j = 0; j < n; ++j) cm1[j] = blk.conf[j] - 1.0f;
  for (int k = 0; k < NB; ++k) {
    const int k0 = k * BS;
    for (int a0 = 0; a0 < BS; a0 += R) {
      VecF<V> h[R][C];
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) h[r][c] = Load<V>(gram + (k0 + a0 + r) * d + k0 + c * V);
      for (int64_t j = 0; j < n; ++j) {
        AccumulateNonzero<W, V, C, R>(blk.Row(j, d) + k0, cm1 + j, a0, h);
      }
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) Store<V>(hrow + c * V, h[r][c]);
        for (int b = 0; b < BS; ++b) hb[((a0 + r) * BS + b) * NB + k] = hrow[b];
      }
    }
  }
  BatchedLdl<BS, NB>(hb, inv_d, ok);
  for (int k = 0; k < NB; ++k) {
    const int k0 = k * BS;
    VecF<8> res[BS / 8] = {};
    const bool update_s = k0 > 0;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
      VecF<8> s8 = Load<8>(s + j);
      if (update_s) {
        VecF<8> p[8];
        for (int i = 0; i < 8; ++i) p[i] = BlockDot8<BS>(blk.Row(j + i, d) + k0 - BS, prev);
        s8 += LaneSums8(p);
        Store<8>(s + j, s8);
      }
      Store<8>(e + j, Load<8>(blk.conf + j) - Load<8>(cm1 + j) * s8);
      for (int i = 0; i < 8; ++i) {
        const float* __restrict y = blk.Row(j + i, d) + k0;
        const VecF<8> ej = SplatFromMemory<W, 8>(e + j + i);
        for (int c = 0; c < BS / 8; ++c) res[c] += ej * Load<8>(y + 8 * c);
      }
    }
    for (; j < n; ++j) {
      if (update_s) {
        const float* __restrict y = blk.Row(j, d) + k0 - BS;
        float t = 0;
        for (int a = 0; a < BS; ++a) t += y[a] * prev[a];
        s[j] += t;
      }
      e[j] = blk.conf[j] - cm1[j] * s[j];
      const float* __restrict y = blk.Row(j, d) + k0;
      const VecF<8> ej = Splat<8>(e[j]);
      for (int c = 0; c < BS / 8; ++c) res[c] += ej * Load<8>(y + 8 * c);
    }
    for (int c = 0; c < BS / 8; ++c) Store<8>(hrow + 8 * c, res[c]);
    if (!ok[k]) {  // lambda 0 and a degenerate block: keep x_S
      for (int a = 0; a < BS; ++a) prev[a] = 0;
      continue;
    }
    for (int a = 0; a < BS; ++a) rd[a] = static_cast<double>(hrow[a]) - v[k0 + a];
    LdlSolve<BS, NB>(hb, inv_d, k, rd);
    for (int a = 0; a < BS; ++a) {
      prev[a] = static_cast<float>(rd[a]);
      x[k0 + a] += prev[a];
    }
    if (k + 1 < NB) {
      // v += G[S, :]^T delta (G symmetric): only v's later blocks are read.
      for (int a = 0; a < BS; ++a) {
        const float da = prev[a];
        const float* __restrict ga = gram + (k0 + a) * d;
        for (int b = k0 + BS; b < d; ++b) v[b] += da * ga[b];
      }
    }
  }
}

// d = 32, 64 and 128 get register-resident accumulators; other sizes the
// generic loops.
template <int W>
RECSTACK_INLINE void CgDispatchD(const RowBlock& blk, const float* gram, int d, int steps, float* x,
                                 float* scratch) {
  switch (d) {
    case 32:
      return CgBody<W, 32>(blk, gram, d, steps, x, scratch);
    case 64:
      return CgBody<W, 64>(blk, gram, d, steps, x, scratch);
    case 128:
      return CgBody<W, 128>(blk, gram, d, steps, x, scratch);
    default:
      return CgBody<W, 0>(blk, gram, d, steps, x, scratch);
  }
}

// Block sizes 8, 16 and 32 with d = 32, 64 or 128 run SubspaceBodyFixed;
// others the generic SubspaceBody.
template <int W, int kD>
RECSTACK_INLINE bool SubspaceFixedBlock(const RowBlock& blk, const float* gram, int block, float* x,
                                        float* scratch) {
  switch (block) {
    case 8:
      SubspaceBodyFixed<W, kD, 8>(blk, gram, x, scratch);
      return true;
    case 16:
      SubspaceBodyFixed<W, kD, 16>(blk, gram, x, scratch);
      return true;
    case 32:
      SubspaceBodyFixed<W, kD, 32>(blk, gram, x, scratch);
      return true;
    default:
      return false;
  }
}

template <int W>
RECSTACK_INLINE bool SubspaceFixedD(const RowBlock& blk, const float* gram, int d, int block,
                                    float* x, float* scratch) {
  switch (d) {
    case 32:
      return SubspaceFixedBlock<W, 32>(blk, gram, block, x, scratch);
    case 64:
      return SubspaceFixedBlock<W, 64>(blk, gram, block, x, scratch);
    case 128:
      return SubspaceFixedBlock<W, 128>(blk, gram, block, x, scratch);
    default:
      return false;
  }
}

template <int W>
RECSTACK_INLINE void SubspaceDispatchD(const RowBlock& blk, const float* gram, int d, int block,
                                       float* x, float* scratch, double* dscratch) {
  if (SubspaceFixedD<W>(blk, gram, d, block, x, scratch)) return;
  switch (d) {
    case 32:
      return SubspaceBody<W, 32>(blk, gram, d, block, x, scratch, dscratch);
    case 64:
      return SubspaceBody<W, 64>(blk, gram, d, block, x, scratch, dscratch);
    case 128:
      return SubspaceBody<W, 128>(blk, gram, d, block, x, scratch, dscratch);
    default:
      return SubspaceBody<W, 0>(blk, gram, d, block, x, scratch, dscratch);
  }
}

using CgFn = void(const RowBlock&, const float*, int, int, float*, float*);
using SubspaceFn = void(const RowBlock&, const float*, int, int, float*, float*, double*);

void CgDefault(const RowBlock& blk, const float* gram, int d, int steps, float* x, float* scratch) {
  CgDispatchD<4>(blk, gram, d, steps, x, scratch);
}
RECSTACK_TARGET_AVX2 void CgAvx2(const RowBlock& blk, const float* gram, int d, int steps, float* x,
                                 float* scratch) {
  CgDispatchD<8>(blk, gram, d, steps, x, scratch);
}
RECSTACK_TARGET_AVX512 void CgAvx512(const RowBlock& blk, const float* gram, int d, int steps,
                                     float* x, float* scratch) {
  CgDispatchD<16>(blk, gram, d, steps, x, scratch);
}
void SubspaceDefault(const RowBlock& blk, const float* gram, int d, int block, float* x,
                     float* scratch, double* dscratch) {
  SubspaceDispatchD<4>(blk, gram, d, block, x, scratch, dscratch);
}
RECSTACK_TARGET_AVX2 void SubspaceAvx2(const RowBlock& blk, const float* gram, int d, int block,
                                       float* x, float* scratch, double* dscratch) {
  SubspaceDispatchD<8>(blk, gram, d, block, x, scratch, dscratch);
}
RECSTACK_TARGET_AVX512 void SubspaceAvx512(const RowBlock& blk, const float* gram, int d, int block,
                                           float* x, float* scratch, double* dscratch) {
  SubspaceDispatchD<16>(blk, gram, d, block, x, scratch, dscratch);
}

constexpr math::SimdVariants<CgFn> kCg{CgDefault, CgAvx2, CgAvx512};
constexpr math::SimdVariants<SubspaceFn> kSubspace{SubspaceDefault, SubspaceAvx2, SubspaceAvx512};

// Per-thread scratch of the implicit row solves.
struct ImplicitScratch {
  std::vector<float> block;  // kMaxGather x d, the gathered rows
  std::vector<float> conf;   // max n
  std::vector<float> work;   // the kernels' scratch
  std::vector<double> dwork;
  void Reserve(int64_t max_n, int d, int block_size) {
    const int64_t g = std::min(max_n, kMaxGather);
    block.resize(static_cast<size_t>(g) * d);
    conf.resize(std::max<int64_t>(max_n, 1));
    work.resize(3 * d + 3 * std::max<int64_t>(max_n, 1) + block_size * (block_size + 2) + 16);
    dwork.resize(static_cast<size_t>(block_size) * (block_size + 1) + 16);
  }
};

// Gathers a row's factor rows (when short enough) and confidences.
RowBlock GatherRow(const float* y, int d, const int32_t* items, const float* values, int64_t n,
                   float alpha, bool value_confidence, ImplicitScratch& s) {
  RowBlock blk{y, items, nullptr, s.conf.data(), n};
  for (int64_t j = 0; j < n; ++j) {
    s.conf[j] = value_confidence ? values[j] : 1.0f + alpha * values[j];
  }
  if (n <= kMaxGather) {
    float* out = s.block.data();
    for (int64_t j = 0; j < n; ++j) {
      std::memcpy(out + j * d, y + static_cast<int64_t>(items[j]) * d, d * sizeof(float));
    }
    blk.items = nullptr;
    blk.gathered = out;
  }
  return blk;
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
    return absl::InvalidArgumentError(
        absl::StrCat("regularization must be >= 0, got ", regularization));
  }
  if (!(alpha >= 0) || !std::isfinite(alpha)) {
    return absl::InvalidArgumentError(absl::StrCat("alpha must be >= 0, got ", alpha));
  }
  if (cg_steps <= 0 || cg_steps > 100) {
    return absl::InvalidArgumentError(absl::StrCat("cg-steps must be 1-100, got ", cg_steps));
  }
  if (solver == Solver::kSubspace && (block_size <= 0 || block_size > factors)) {
    return absl::InvalidArgumentError(
        absl::StrCat("block-size must be 1 to factors (", factors, "), got ", block_size));
  }
  if (threads <= 0 || threads > 256) {
    return absl::InvalidArgumentError(absl::StrCat("threads must be 1-256, got ", threads));
  }
  if (explicit_solver == ExplicitSolver::kGibbs) {
    if (burn_in < -1 || burn_in >= iterations) {
      return absl::InvalidArgumentError(absl::StrCat("burn-in must be 0 to iterations - 1 (",
                                                     iterations - 1,
                                                     ") or -1 for iterations / 4, got ", burn_in));
    }
    if (!(noise_precision >= 0) || !std::isfinite(noise_precision)) {
      return absl::InvalidArgumentError(
          absl::StrCat("noise-precision must be > 0 (or 0: sampled), got ", noise_precision));
    }
    if (warm_start < 0 || warm_start > 1000) {
      return absl::InvalidArgumentError(
          absl::StrCat("warm-start must be 0-1000, got ", warm_start));
    }
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
                            const int32_t* items, const float* values, int64_t n,
                            const AlsParams& p, float* x) {
  SolveUserAt(math::ActiveSimdLevel(), item_factors, gram_plus_reg, items, values, n, p, x);
}

void ImplicitAls::SolveUserAt(math::SimdLevel level, const math::Matrix& item_factors,
                              const float* gram_plus_reg, const int32_t* items, const float* values,
                              int64_t n, const AlsParams& p, float* x) {
  const int d = static_cast<int>(item_factors.cols());
  const bool value_conf = p.confidence == Confidence::kValue;
  if (p.solver == Solver::kCholesky) {
    std::vector<float> a(static_cast<size_t>(d) * d);
    CholeskyRow(item_factors.data(), gram_plus_reg, items, values, n, d, p.alpha, value_conf, x,
                a.data());
    return;
  }
  ImplicitScratch s;
  s.Reserve(n, d, p.block_size);
  const RowBlock blk = GatherRow(item_factors.data(), d, items, values, n, p.alpha, value_conf, s);
  if (p.solver == Solver::kSubspace) {
    kSubspace.For(level)(blk, gram_plus_reg, d, std::min(p.block_size, d), x, s.work.data(),
                         s.dwork.data());
  } else {
    kCg.For(level)(blk, gram_plus_reg, d, p.cg_steps, x, s.work.data());
  }
}

static std::vector<int64_t> RowsByNnzDescending(const math::CsrMatrix& m) {
  std::vector<int64_t> order(m.rows);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return m.RowLength(a) > m.RowLength(b); });
  return order;
}

void ImplicitAls::HalfStep(const math::CsrMatrix& m, const std::vector<int64_t>& order,
                           const math::Matrix& fixed, math::Matrix& solve) {
  using Clock = std::chrono::steady_clock;
  const int d = params_.factors;
  auto t0 = Clock::now();
  std::vector<float> gram;
  math::SetBlasThreads(params_.threads);
  GramPlusReg(fixed, params_.regularization, &gram);
  // OpenBLAS stays single-threaded inside the row loop (our threads own it).
  math::SetBlasThreads(1);
  const double gram_s = Seconds(t0);
  gram_seconds_ += gram_s;
  profile_.gram_seconds += gram_s;
  auto t1 = Clock::now();
  const bool value_conf = params_.confidence == Confidence::kValue;
  const int threads = params_.threads;
  const SimdLevel level = math::ActiveSimdLevel();
  CgFn* const cg = kCg.For(level);
  SubspaceFn* const subspace = kSubspace.For(level);
  const int block_size = std::min(params_.block_size, d);
  int64_t max_n = 1;
  for (int64_t r = 0; r < m.rows; ++r) max_n = std::max(max_n, m.RowLength(r));
  std::vector<ImplicitScratch> scratch(threads);
  for (ImplicitScratch& s : scratch) s.Reserve(max_n, d, block_size);
  std::vector<float> dense(params_.solver == Solver::kCholesky ? threads * d * d : 0);
  // Per thread: [busy, gather, kernel] seconds (profiling only).
  std::vector<std::array<double, 3>> busy(threads, {0, 0, 0});
  const bool profiling = profiling_;
  const bool ordered = !order.empty();
  // Small chunks at the end of a longest-first order even out the threads.
  ParallelFor(m.rows, threads, ordered ? 16 : 64, [&](int64_t b, int64_t e, int t) {
    ImplicitScratch& s = scratch[t];
    const Clock::time_point chunk_start = profiling ? Clock::now() : Clock::time_point{};
    for (int64_t pos = b; pos < e; ++pos) {
      const int64_t row = ordered ? order[pos] : pos;
      const int64_t begin = m.indptr[row], n = m.indptr[row + 1] - begin;
      float* x = solve.row(row);
      if (params_.solver == Solver::kCholesky) {
        CholeskyRow(fixed.data(), gram.data(), m.indices.data() + begin, m.values.data() + begin, n,
                    d, params_.alpha, value_conf, x, dense.data() + t * d * d);
        continue;
      }
      const Clock::time_point g0 = profiling ? Clock::now() : Clock::time_point{};
      const RowBlock blk = GatherRow(fixed.data(), d, m.indices.data() + begin,
                                     m.values.data() + begin, n, params_.alpha, value_conf, s);
      const Clock::time_point g1 = profiling ? Clock::now() : Clock::time_point{};
      if (params_.solver == Solver::kSubspace) {
        subspace(blk, gram.data(), d, block_size, x, s.work.data(), s.dwork.data());
      } else {
        cg(blk, gram.data(), d, params_.cg_steps, x, s.work.data());
      }
      if (profiling) {
        busy[t][1] += std::chrono::duration<double>(g1 - g0).count();
        busy[t][2] += std::chrono::duration<double>(Clock::now() - g1).count();
      }
    }
    if (profiling) busy[t][0] += std::chrono::duration<double>(Clock::now() - chunk_start).count();
  });
  const double wall = Seconds(t1);
  solve_seconds_ += wall;
  if (profiling) {
    double total = 0, gather = 0, kernel = 0;
    for (const auto& b : busy) {
      total += b[0];
      gather += b[1];
      kernel += b[2];
    }
    // Thread-seconds over the thread count, so the phases add up to wall time.
    profile_.gather_seconds += gather / threads;
    profile_.kernel_seconds += kernel / threads;
    profile_.row_overhead_seconds += (total - gather - kernel) / threads;
    profile_.imbalance_seconds += std::max(0.0, wall - total / threads);
  }
  profile_.rows += m.rows;
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
  profile_ = {};
  std::vector<int64_t> user_order, item_order;
  if (params_.order_rows_by_nnz) {
    user_order = RowsByNnzDescending(by_user);
    item_order = RowsByNnzDescending(by_item);
  }
  for (int it = 1; it <= params_.iterations; ++it) {
    HalfStep(by_user, user_order, items_, users_);
    HalfStep(by_item, item_order, users_, items_);
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
  for (int64_t i = 0; i < items_.rows(); ++i)
    item_norm += math::Dot(items_.row(i), items_.row(i), d);
  loss += params_.regularization * (user_norm + item_norm);
  const double denom =
      total_conf + static_cast<double>(by_user.rows) * by_user.cols - by_user.nnz();
  return loss / denom;
}

namespace {

// A seed for one stream of draws (sweep, side, row): splitmix64 steps, so
// each row's draws depend on the seed and its position only, not on which
// thread solved it.
uint64_t StreamSeed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = seed;
  for (uint64_t v : {a, b, c}) {
    x += 0x9e3779b97f4a7c15ULL + v;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
  }
  return x;
}

// Per-thread scratch of the explicit half-steps; k = factors + 1.
struct ExplicitScratchImpl {
  std::vector<float> x, t, xtx, xtt;  // max_n x k, max_n, k x k, k
  std::vector<double> a, b;           // k x k, k
  // kCholeskyBatch rows' systems: their lower triangles packed for
  // CholeskyLowerBatch, and right-hand sides (kCholeskyBatch x k).
  std::vector<double> packed, rhs;
};

// The normal equations of one row against the other side's theta
// (n_other x k, bias last): xtx = X^T X and xtt = X^T t over its n ratings,
// X's rows [y_j, 1], t_j = r_j - mu - b_j. sgemm-class work through the BLAS
// facade (single-threaded inside the row loop).
void RowNormalEquations(const math::CsrMatrix& m, int64_t row, const math::Matrix& fixed, float mu,
                        ExplicitScratchImpl& s) {
  const int k = static_cast<int>(fixed.cols()), d = k - 1;
  const int64_t begin = m.indptr[row], n = m.indptr[row + 1] - begin;
  for (int64_t p = 0; p < n; ++p) {
    const float* y = fixed.row(m.indices[begin + p]);
    float* xp = s.x.data() + p * k;
    std::copy(y, y + d, xp);
    xp[d] = 1.0f;
    s.t[p] = m.values[begin + p] - mu - y[d];
  }
  if (n == 0) {
    std::fill(s.xtx.begin(), s.xtx.end(), 0.0f);
    std::fill(s.xtt.begin(), s.xtt.end(), 0.0f);
    return;
  }
  math::SyrkAtA(k, n, 1.0f, s.x.data(), k, 0.0f, s.xtx.data());
  math::Gemv(true, n, k, 1.0f, s.x.data(), k, s.t.data(), 0.0f, s.xtt.data());
}

// The explicit half-sweeps' row solves, kCholeskyBatch rows at a time: for
// each row of [begin, end) fill(row, lower, b) writes the lower triangle of
// its k x k system matrix, element (i, j <= i) at lower[(i (i + 1) / 2 + j)
// * kCholeskyBatch], and its right-hand side into b, and returns false to
// skip the row; the rows' matrices are factored together
// (CholeskyLowerBatch, SIMD across rows; docs/bench/explicit_cholesky.json
// has it against one at a time and LAPACK dpotrf); then solve(row, l, m, b)
// runs with the packed factors l (the row's is matrix m) and its right-hand
// side, or failed(row) where the matrix is not positive definite.
template <typename Fill, typename Solve, typename Failed>
void SolveRowsBatched(int64_t begin, int64_t end, int k, ExplicitScratchImpl& s, Fill fill,
                      Solve solve, Failed failed) {
  constexpr int B = kCholeskyBatch;
  int64_t rows[B];
  for (int64_t g = begin; g < end;) {
    int count = 0;
    for (; g < end && count < B; ++g) {
      if (fill(g, s.packed.data() + count, s.rhs.data() + count * k)) rows[count++] = g;
    }
    if (count == 0) break;
    for (int m = count; m < B; ++m) {  // unused lanes: the identity
      size_t e = 0;
      for (int i = 0; i < k; ++i)
        for (int j = 0; j <= i; ++j, ++e) s.packed[e * B + m] = i == j ? 1.0 : 0.0;
    }
    bool ok[B];
    CholeskyLowerBatch(s.packed.data(), k, ok);
    for (int m = 0; m < count; ++m) {
      if (ok[m]) {
        solve(rows[m], s.packed.data(), m, s.rhs.data() + m * k);
      } else {
        failed(rows[m]);
      }
    }
  }
}

}  // namespace

// Defined after the anonymous namespace's ExplicitScratchImpl.
struct ExplicitModel::Scratch : ExplicitScratchImpl {};

ExplicitModel::ExplicitModel(AlsParams params) : params_(params) {}
ExplicitModel::~ExplicitModel() = default;

std::unique_ptr<ExplicitModel> MakeExplicitModel(AlsParams params) {
  if (params.explicit_solver == ExplicitSolver::kGibbs)
    return std::make_unique<GibbsSampler>(params);
  return std::make_unique<ExplicitAls>(params);
}

absl::Status ExplicitModel::Init(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item) {
  if (absl::Status st = params_.Validate(); !st.ok()) return st;
  if (by_user.nnz() == 0) return absl::InvalidArgumentError("no ratings to train on");
  const int d = params_.factors, k = d + 1;
  double sum = 0;
  min_rating_ = by_user.values[0];
  max_rating_ = by_user.values[0];
  for (float v : by_user.values) {
    sum += v;
    min_rating_ = std::min(min_rating_, v);
    max_rating_ = std::max(max_rating_, v);
  }
  mu_ = static_cast<float>(sum / by_user.nnz());
  // Factors ~ N(0, 0.1^2), biases 0.
  math::Matrix init;
  theta_users_.Resize(by_user.rows, k);
  theta_items_.Resize(by_user.cols, k);
  for (auto [theta, seed] :
       {std::pair{&theta_users_, params_.seed}, std::pair{&theta_items_, params_.seed + 1}}) {
    RandomInit(init, theta->rows(), d, seed, 0.1f);
    for (int64_t r = 0; r < theta->rows(); ++r)
      std::copy(init.row(r), init.row(r) + d, theta->row(r));
  }
  samples_ = 0;
  sum_users_.assign(sampling() ? theta_users_.size() : 0, 0.0);
  sum_items_.assign(sampling() ? theta_items_.size() : 0, 0.0);
  sum_tracked_.assign(tracked_.size(), 0.0);
  math::SetBlasThreads(1);

  scratch_.assign(params_.threads, Scratch{});
  int64_t max_n = 1;
  for (const math::CsrMatrix* m : {&by_user, &by_item}) {
    for (int64_t r = 0; r < m->rows; ++r) max_n = std::max(max_n, m->indptr[r + 1] - m->indptr[r]);
  }
  for (Scratch& s : scratch_) {
    s.x.resize(max_n * k);
    s.t.resize(max_n);
    s.xtx.resize(k * k);
    s.xtt.resize(k);
    s.a.resize(k * k);
    s.b.resize(k);
    s.packed.resize(static_cast<size_t>(k) * (k + 1) / 2 * kCholeskyBatch);
    s.rhs.resize(static_cast<size_t>(k) * kCholeskyBatch);
  }
  return absl::OkStatus();
}

// Deterministic ALS: theta = (X^T X + lambda n^e I)^-1 X^T t.
void ExplicitModel::AlsHalf(const math::CsrMatrix& m, const math::Matrix& fixed,
                            math::Matrix& solve) {
  const int d = params_.factors, k = d + 1;
  ParallelFor(m.rows, params_.threads, 32, [&](int64_t b, int64_t e, int t) {
    Scratch& s = scratch_[t];
    auto fill = [&](int64_t row, double* lower, double* b_out) {
      const int64_t n = m.indptr[row + 1] - m.indptr[row];
      if (n == 0) return false;
      RowNormalEquations(m, row, fixed, mu_, s);
      const double scale = std::pow(static_cast<double>(n), params_.reg_exponent);
      size_t e = 0;
      for (int a = 0; a < k; ++a) {
        for (int c = 0; c < a; ++c, ++e) lower[e * kCholeskyBatch] = s.xtx[a * k + c];
        const float reg = a < d || params_.bias_regularization < 0 ? params_.regularization
                                                                   : params_.bias_regularization;
        lower[e++ * kCholeskyBatch] = s.xtx[a * k + a] + reg * scale;
        b_out[a] = s.xtt[a];
      }
      return true;
    };
    auto solve_row = [&](int64_t row, const double* l, int lane, double* rhs) {
      SolveLowerBatch(l, k, lane, rhs);
      SolveLowerTransposedBatch(l, k, lane, rhs);
      float* out = solve.row(row);
      for (int a = 0; a < k; ++a) out[a] = static_cast<float>(rhs[a]);
    };
    // Singular (lambda 0): keep the iterate.
    SolveRowsBatched(b, e, k, s, fill, solve_row, [](int64_t) {});
  });
}

absl::Status ExplicitAls::Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                              const IterationCallback& callback) {
  RECSTACK_RETURN_IF_ERROR(Init(by_user, by_item));
  for (int it = 1; it <= params_.iterations; ++it) {
    AlsHalf(by_user, theta_items_, theta_users_);
    AlsHalf(by_item, theta_users_, theta_items_);
    Publish();
    if (callback && !callback(it)) break;
  }
  return absl::OkStatus();
}

// Noise precision drawn from its Gamma posterior under a Gamma(1, 1) prior
// given the current sample's training residuals.
void GibbsSampler::SampleNoise(const math::CsrMatrix& by_user, int sweep) {
  const int d = params_.factors;
  double sse = 0;
  for (int64_t u = 0; u < by_user.rows; ++u) {
    const float* x = theta_users_.row(u);
    for (int64_t p = by_user.indptr[u]; p < by_user.indptr[u + 1]; ++p) {
      const float* y = theta_items_.row(by_user.indices[p]);
      const double e = by_user.values[p] - mu_ - x[d] - y[d] - math::Dot(x, y, d);
      sse += e * e;
    }
  }
  math::Rng rng(StreamSeed(params_.seed, sweep, 2, ~0ULL));
  noise_ = SampleGamma(rng, 1.0 + 0.5 * static_cast<double>(by_user.nnz())) / (1.0 + 0.5 * sse);
}

// The side's prior from its Normal-Wishart posterior, then every row from
// N(A^-1 b, A^-1), A = a X^T X + P, b = a X^T t + P m:
// theta = L^-T (L^-1 b + z) for A = L L^T, z ~ N(0, I).
absl::Status GibbsSampler::HalfSweep(const math::CsrMatrix& m, const math::Matrix& fixed,
                                     math::Matrix& solve, int sweep, int side) {
  const int k = params_.factors + 1;
  math::Rng hyper_rng(StreamSeed(params_.seed, sweep, side, ~0ULL));
  absl::StatusOr<GaussianPrior> prior =
      SampleNormalWishart(solve.data(), solve.rows(), k, 2.0, hyper_rng);
  if (!prior.ok()) return prior.status();
  std::vector<double> pm(k, 0.0);  // P m
  for (int a = 0; a < k; ++a) {
    for (int c = 0; c < k; ++c) pm[a] += prior->precision[a * k + c] * prior->mean[c];
  }
  std::atomic<bool> failed{false};
  ParallelFor(m.rows, params_.threads, 32, [&](int64_t b, int64_t e, int t) {
    Scratch& s = scratch_[t];
    auto fill = [&](int64_t row, double* lower, double* b_out) {
      RowNormalEquations(m, row, fixed, mu_, s);
      size_t e = 0;
      for (int a = 0; a < k; ++a) {
        for (int c = 0; c <= a; ++c, ++e) {
          lower[e * kCholeskyBatch] = noise_ * s.xtx[a * k + c] + prior->precision[a * k + c];
        }
        b_out[a] = noise_ * s.xtt[a] + pm[a];
      }
      return true;
    };
    auto solve_row = [&](int64_t row, const double* l, int lane, double* rhs) {
      SolveLowerBatch(l, k, lane, rhs);
      math::Rng rng(StreamSeed(params_.seed, sweep, side, static_cast<uint64_t>(row)));
      for (int a = 0; a < k; ++a) rhs[a] += rng.Normal();
      SolveLowerTransposedBatch(l, k, lane, rhs);
      float* out = solve.row(row);
      for (int a = 0; a < k; ++a) out[a] = static_cast<float>(rhs[a]);
    };
    SolveRowsBatched(b, e, k, s, fill, solve_row, [&](int64_t) { failed = true; });
  });
  if (failed)
    return absl::InternalError(
        "Gibbs sampler diverged: a row's precision is not positive definite");
  return absl::OkStatus();
}

absl::Status GibbsSampler::Fit(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                               const IterationCallback& callback) {
  RECSTACK_RETURN_IF_ERROR(Init(by_user, by_item));
  noise_ = params_.noise_precision;
  for (int w = 0; w < params_.warm_start; ++w) {
    AlsHalf(by_user, theta_items_, theta_users_);
    AlsHalf(by_item, theta_users_, theta_items_);
  }
  const int burn_in = params_.BurnIn();
  for (int it = 1; it <= params_.iterations; ++it) {
    if (params_.noise_precision == 0) SampleNoise(by_user, it);
    RECSTACK_RETURN_IF_ERROR(HalfSweep(by_user, theta_items_, theta_users_, it, 0));
    RECSTACK_RETURN_IF_ERROR(HalfSweep(by_item, theta_users_, theta_items_, it, 1));
    if (it > burn_in) {
      ++samples_;
      for (size_t i = 0; i < sum_users_.size(); ++i) sum_users_[i] += theta_users_.data()[i];
      for (size_t i = 0; i < sum_items_.size(); ++i) sum_items_[i] += theta_items_.data()[i];
      for (size_t j = 0; j < tracked_.size(); ++j) {
        const auto [u, i] = tracked_[j];
        sum_tracked_[j] += PredictTheta(u >= 0 ? theta_users_.row(u) : nullptr,
                                        i >= 0 ? theta_items_.row(i) : nullptr);
      }
    }
    Publish();
    if (callback && !callback(it)) break;
  }
  return absl::OkStatus();
}

void ExplicitModel::Publish() {
  const int64_t d = params_.factors, k = d + 1;
  users_.Resize(theta_users_.rows(), d);
  items_.Resize(theta_items_.rows(), d);
  user_bias_.resize(theta_users_.rows());
  item_bias_.resize(theta_items_.rows());
  auto copy = [&](const math::Matrix& theta, const std::vector<double>& sums, math::Matrix& f,
                  std::vector<float>& bias) {
    const bool mean = samples_ > 0;
    for (int64_t r = 0; r < theta.rows(); ++r) {
      float* out = f.row(r);
      for (int64_t a = 0; a < k; ++a) {
        const float v = mean ? static_cast<float>(sums[r * k + a] / samples_) : theta.row(r)[a];
        if (a < d) {
          out[a] = v;
        } else {
          bias[r] = v;
        }
      }
    }
  };
  copy(theta_users_, sum_users_, users_, user_bias_);
  copy(theta_items_, sum_items_, items_, item_bias_);
}

float ExplicitModel::PredictTheta(const float* user, const float* item) const {
  const int d = params_.factors;
  float r = mu_;
  if (user != nullptr) r += user[d];
  if (item != nullptr) r += item[d];
  if (user != nullptr && item != nullptr) r += math::Dot(user, item, d);
  return std::clamp(r, min_rating_, max_rating_);
}

float ExplicitModel::TrackedPrediction(size_t j) const {
  if (samples_ > 0) return static_cast<float>(sum_tracked_[j] / samples_);
  return Predict(tracked_[j].first, tracked_[j].second);
}

float ExplicitModel::Predict(int32_t user, int32_t item) const {
  float r = mu_;
  if (user >= 0) r += user_bias_[user];
  if (item >= 0) r += item_bias_[item];
  if (user >= 0 && item >= 0) r += math::Dot(users_.row(user), items_.row(item), users_.cols());
  return std::clamp(r, min_rating_, max_rating_);
}

double ExplicitModel::Loss(const math::CsrMatrix& by_user) const {
  double se = 0;
  for (int64_t u = 0; u < by_user.rows; ++u) {
    for (int64_t p = by_user.indptr[u]; p < by_user.indptr[u + 1]; ++p) {
      const double e = by_user.values[p] - Predict(static_cast<int32_t>(u), by_user.indices[p]);
      se += e * e;
    }
  }
  return std::sqrt(se / std::max<int64_t>(1, by_user.nnz()));
}

}  // namespace recstack::mf
