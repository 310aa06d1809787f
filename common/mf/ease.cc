#include "common/mf/ease.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/math/blas.h"
#include "common/math/topk.h"
#include "common/mf/als.h"

// LAPACK from Debian's OpenBLAS (libopenblas0 ships it; there is no
// lapacke.h in libopenblas-dev). Fortran convention: arguments by pointer,
// column-major, and a hidden length for each character argument.
extern "C" {
void spotrf_(const char* uplo, const blasint* n, float* a, const blasint* lda, blasint* info,
             size_t uplo_len);
void spotri_(const char* uplo, const blasint* n, float* a, const blasint* lda, blasint* info,
             size_t uplo_len);
}

namespace recstack::mf {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Copies the upper triangle (j > i) onto the lower one, in square tiles so
// both the rows read and the columns written stay in cache.
void MirrorUpperToLower(math::Matrix* a, int threads) {
  const int64_t n = a->rows();
  constexpr int64_t kTile = 64;
  const int64_t tiles = (n + kTile - 1) / kTile;
  float* d = a->data();
  ParallelFor(tiles, threads, 1, [&](int64_t tb, int64_t te, int) {
    for (int64_t ti = tb; ti < te; ++ti) {
      const int64_t i0 = ti * kTile, i1 = std::min(n, i0 + kTile);
      // Lower tile (rows i, cols j < i) from the upper tile (row j, col i).
      for (int64_t j0 = 0; j0 <= i0; j0 += kTile) {
        const int64_t j1 = std::min(n, j0 + kTile);
        for (int64_t i = i0; i < i1; ++i) {
          for (int64_t j = j0; j < std::min(j1, i); ++j) d[i * n + j] = d[j * n + i];
        }
      }
    }
  });
}

inline float Value(bool binarize, float v) { return binarize ? (v != 0 ? 1.0f : 0.0f) : v; }

}  // namespace

absl::Status EaseParams::Validate() const {
  if (!(lambda > 0) || !std::isfinite(lambda)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ease: --regularization (lambda) must be > 0, got ", lambda));
  }
  if (max_items < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ease: max items must be >= 1, got ", max_items));
  }
  if (top_n < 1) {
    return absl::InvalidArgumentError(absl::StrCat("ease: top-n must be >= 1, got ", top_n));
  }
  if (threads < 1) return absl::InvalidArgumentError("ease: threads must be >= 1");
  return absl::OkStatus();
}

void GramSparse(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item, bool binarize,
                int threads, math::Matrix* gram) {
  const int64_t n = by_user.cols;
  gram->Resize(n, n);
  // Row i of the upper triangle: for each user u of item i, x_ui * x_uj for
  // the user's items j >= i (rows are sorted, so a binary search finds i).
  ParallelFor(n, threads, 16, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float* g = gram->row(i);
      for (int64_t p = by_item.indptr[i]; p < by_item.indptr[i + 1]; ++p) {
        const int32_t u = by_item.indices[p];
        const float xi = Value(binarize, by_item.values[p]);
        const int32_t* row_begin = by_user.indices.data() + by_user.indptr[u];
        const int32_t* row_end = by_user.indices.data() + by_user.indptr[u + 1];
        const int32_t* start = std::lower_bound(row_begin, row_end, static_cast<int32_t>(i));
        const float* vals = by_user.values.data() + (start - by_user.indices.data());
        if (binarize) {
          for (const int32_t* q = start; q != row_end; ++q) g[*q] += xi * (vals[q - start] != 0);
        } else {
          for (const int32_t* q = start; q != row_end; ++q) g[*q] += xi * vals[q - start];
        }
      }
    }
  });
  MirrorUpperToLower(gram, threads);
}

void GramSyrk(const math::CsrMatrix& by_user, bool binarize, int threads, math::Matrix* gram) {
  const int64_t n = by_user.cols, users = by_user.rows;
  gram->Resize(n, n);
  math::SetBlasThreads(threads);
  // Dense blocks of user rows (block * n floats), accumulated into the upper
  // triangle with beta = 1.
  constexpr int64_t kBlock = 256;
  math::Matrix block(std::min<int64_t>(kBlock, std::max<int64_t>(users, 1)), n);
  for (int64_t b = 0; b < users; b += kBlock) {
    const int64_t rows = std::min(kBlock, users - b);
    std::fill(block.data(), block.data() + block.size(), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      float* dst = block.row(r);
      for (int64_t p = by_user.indptr[b + r]; p < by_user.indptr[b + r + 1]; ++p) {
        dst[by_user.indices[p]] = Value(binarize, by_user.values[p]);
      }
    }
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<blasint>(n),
                static_cast<blasint>(rows), 1.0f, block.data(), static_cast<blasint>(n), 1.0f,
                gram->data(), static_cast<blasint>(n));
  }
  MirrorUpperToLower(gram, threads);
}

absl::Status InvertSpd(math::Matrix* a, int threads) {
  const blasint n = static_cast<blasint>(a->rows());
  if (n == 0) return absl::OkStatus();
  math::SetBlasThreads(threads);
  // Row-major upper == column-major lower: factor and invert the "L" half
  // as LAPACK sees it, i.e. our upper triangle, then mirror it.
  blasint info = 0;
  const char uplo = 'L';
  spotrf_(&uplo, &n, a->data(), &n, &info, 1);
  if (info != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ease: X^T X + lambda I is not positive definite (spotrf info ", info, "); raise lambda"));
  }
  spotri_(&uplo, &n, a->data(), &n, &info, 1);
  if (info != 0) {
    return absl::FailedPreconditionError(absl::StrCat("ease: spotri failed, info ", info));
  }
  MirrorUpperToLower(a, threads);
  return absl::OkStatus();
}

absl::StatusOr<math::Matrix> FitEase(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                                     const EaseParams& params, EaseFitStats* stats) {
  if (absl::Status st = params.Validate(); !st.ok()) return st;
  const int64_t n = by_user.cols;
  if (n > params.max_items) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ease: ", n, " items is above the limit of ", params.max_items,
        " (EASE holds a dense items x items matrix: ", static_cast<double>(n) * n * 4 / 1e9,
        " GB, and inverts it in O(items^3)); "
        "raise the limit (--ease-max-items) or use als-implicit"));
  }
  if (n == 0) return absl::InvalidArgumentError("ease: no items");
  EaseFitStats local;
  EaseFitStats& s = stats != nullptr ? *stats : local;

  // Work estimates in multiply-adds: sparse touches each pair of a user's
  // items once (and pays a cache miss for it), syrk every (user, i, j) of the
  // upper triangle at BLAS speed (~16x more per second here).
  double pairs = 0;
  for (int64_t u = 0; u < by_user.rows; ++u) {
    const double len = static_cast<double>(by_user.RowLength(u));
    pairs += len * (len + 1) / 2;
  }
  const double dense = static_cast<double>(by_user.rows) * n * n / 2;
  GramMethod method = params.gram;
  if (method == GramMethod::kAuto)
    method = pairs * 16 < dense ? GramMethod::kSparse : GramMethod::kSyrk;

  auto t0 = std::chrono::steady_clock::now();
  math::Matrix p;
  if (method == GramMethod::kSparse) {
    GramSparse(by_user, by_item, params.binarize, params.threads, &p);
    s.gram_method = "sparse";
  } else {
    GramSyrk(by_user, params.binarize, params.threads, &p);
    s.gram_method = "syrk";
  }
  for (int64_t i = 0; i < n; ++i) p.at(i, i) += params.lambda;
  s.gram_seconds = Since(t0);

  auto t1 = std::chrono::steady_clock::now();
  if (absl::Status st = InvertSpd(&p, params.threads); !st.ok()) return st;
  s.inverse_seconds = Since(t1);

  // B = I - P diag(1 / diag(P)), in place: B_ij = -P_ij / P_jj, B_jj = 0.
  auto t2 = std::chrono::steady_clock::now();
  std::vector<float> inv_diag(n);
  for (int64_t j = 0; j < n; ++j) inv_diag[j] = -1.0f / p.at(j, j);
  ParallelFor(n, params.threads, 64, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float* row = p.row(i);
      for (int64_t j = 0; j < n; ++j) row[j] *= inv_diag[j];
      row[i] = 0.0f;
    }
  });
  s.finish_seconds = Since(t2);
  return p;
}

void EaseScores(const math::Matrix& b, const int32_t* items, const float* values, int64_t count,
                float* out) {
  const int64_t n = b.cols();
  std::fill(out, out + n, 0.0f);
  for (int64_t i = 0; i < count; ++i) {
    const float x = values[i];
    const float* row = b.row(items[i]);
    for (int64_t j = 0; j < n; ++j) out[j] += x * row[j];
  }
}

EaseNeighbours TopNPerRow(const math::Matrix& b, int32_t top_n, int threads,
                          Truncation truncation) {
  const int64_t n = b.rows();
  const int32_t keep = static_cast<int32_t>(std::min<int64_t>(top_n, std::max<int64_t>(n - 1, 0)));
  EaseNeighbours out;
  out.top_n = top_n;
  out.indptr.resize(n + 1);
  for (int64_t i = 0; i <= n; ++i) out.indptr[i] = i * keep;
  out.ids.resize(static_cast<size_t>(n) * keep);
  out.weights.resize(static_cast<size_t>(n) * keep);
  ParallelFor(n, threads, 64, [&](int64_t rb, int64_t re, int) {
    std::vector<float> magnitude(n);
    for (int64_t i = rb; i < re; ++i) {
      const float* row = b.row(i);
      auto not_self = [i](int32_t id) { return id == i; };
      std::vector<math::ScoredId> top;
      if (truncation == Truncation::kLargest) {
        top = math::TopK(row, n, keep, not_self);
      } else {
        for (int64_t j = 0; j < n; ++j) magnitude[j] = std::abs(row[j]);
        top = math::TopK(magnitude.data(), n, keep, not_self);
        for (auto& t : top) t.score = row[t.id];
        std::sort(top.begin(), top.end(), math::Better);
      }
      for (size_t r = 0; r < top.size(); ++r) {
        out.ids[i * keep + r] = top[r].id;
        out.weights[i * keep + r] = top[r].score;
      }
    }
  });
  return out;
}

void TruncatedScores(const EaseNeighbours& nb, int64_t n_items, const int32_t* items,
                     const float* values, int64_t count, float* out) {
  std::fill(out, out + n_items, 0.0f);
  for (int64_t i = 0; i < count; ++i) {
    const int32_t item = items[i];
    for (int64_t p = nb.indptr[item]; p < nb.indptr[item + 1]; ++p) {
      out[nb.ids[p]] += values[i] * nb.weights[p];
    }
  }
}

}  // namespace recstack::mf
