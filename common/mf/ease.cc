#include "common/mf/ease.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/math/blas.h"
#include "common/math/rng.h"
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

// A broken invariant of the caller's code, not bad input: crash and say
// which (STYLE rule 3).
void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "ease: %s\n", what);
  std::abort();
}

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
    return absl::InvalidArgumentError(absl::StrCat("ease: --ease-top-n must be >= 1, got ", top_n));
  }
  if (row_min < 0 || row_max < 0 || RowMin() > top_n || RowMax() < top_n) {
    return absl::InvalidArgumentError(
        absl::StrCat("ease: each item's published weights must allow the mean --ease-top-n ", top_n,
                     ": row min ", RowMin(), " <= top-n <= row max ", RowMax()));
  }
  if (importance_k < 1 || importance_users < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ease: importance needs k >= 1 and users >= 1, got ", importance_k, ", ",
                     importance_users));
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

std::string TruncationName(Truncation t) {
  switch (t) {
    case Truncation::kImportance:
      return "importance";
    case Truncation::kMagnitude:
      return "magnitude";
    case Truncation::kLargest:
      return "largest";
  }
  return "unknown";
}

int32_t EaseNeighbours::MostPerRow() const {
  int64_t most = 0;
  for (size_t i = 0; i + 1 < indptr.size(); ++i) most = std::max(most, indptr[i + 1] - indptr[i]);
  return static_cast<int32_t>(most);
}

EaseNeighbours TopNPerRow(const math::Matrix& b, int32_t top_n, int threads,
                          Truncation truncation) {
  Require(truncation != Truncation::kImportance, "TopNPerRow: kImportance needs TopKShare");
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

std::vector<float> TopKShare(const math::Matrix& b, const math::CsrMatrix& by_user, bool binarize,
                             int k, int64_t max_users, uint64_t seed, int threads) {
  const int64_t n = b.cols();
  std::vector<int32_t> users;
  for (int64_t u = 0; u < by_user.rows; ++u) {
    if (by_user.RowLength(u) > 0) users.push_back(static_cast<int32_t>(u));
  }
  if (static_cast<int64_t>(users.size()) > max_users) {
    // The first max_users of a seeded Fisher-Yates shuffle, then in order.
    math::Rng rng(seed);
    for (int64_t i = 0; i < max_users; ++i) {
      const int64_t j = i + static_cast<int64_t>(rng.Below(users.size() - i));
      std::swap(users[i], users[j]);
    }
    users.resize(max_users);
    std::sort(users.begin(), users.end());
  }
  // Per-thread hit counts (exact integers in double), summed at the end.
  std::vector<std::vector<double>> hits(std::max(threads, 1));
  ParallelFor(static_cast<int64_t>(users.size()), threads, 16,
              [&](int64_t ub, int64_t ue, int thread) {
                std::vector<double>& h = hits[thread];
                if (h.empty()) h.assign(n, 0.0);
                std::vector<float> scores(n), values;
                std::vector<char> seen(n, 0);
                for (int64_t x = ub; x < ue; ++x) {
                  const int32_t u = users[x];
                  const int64_t p0 = by_user.indptr[u], len = by_user.RowLength(u);
                  const int32_t* items = by_user.indices.data() + p0;
                  values.resize(len);
                  for (int64_t q = 0; q < len; ++q) {
                    values[q] = Value(binarize, by_user.values[p0 + q]);
                    seen[items[q]] = 1;
                  }
                  EaseScores(b, items, values.data(), len, scores.data());
                  for (const auto& t :
                       math::TopK(scores.data(), n, k, [&](int32_t id) { return seen[id] != 0; })) {
                    h[t.id] += 1;
                  }
                  for (int64_t q = 0; q < len; ++q) seen[items[q]] = 0;
                }
              });
  std::vector<float> q(n, 0.0f);
  if (users.empty()) return q;
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (const auto& h : hits) sum += h.empty() ? 0.0 : h[i];
    q[i] = static_cast<float>(sum / static_cast<double>(users.size()));
  }
  return q;
}

EaseNeighbours SelectByImportance(const math::Matrix& b, const std::vector<float>& q, int32_t top_n,
                                  int32_t row_min, int32_t row_max, int threads) {
  const int64_t n = b.rows();
  Require(static_cast<int64_t>(q.size()) == n && row_min >= 0 && row_max >= row_min,
          "SelectByImportance: q is not n_items long, or row_min > row_max");
  float q_min = 0;
  for (float x : q) {
    if (x > 0 && (q_min == 0 || x < q_min)) q_min = x;
  }
  const float eps = q_min > 0 ? q_min * 1e-3f : 1.0f;
  // Each row's best row_max candidates by |B_ji| * (q_i + eps), best first:
  // n * row_max entries (128 MB at 20,000 items and 800), zeros left out.
  const int64_t cap = std::min<int64_t>(row_max, std::max<int64_t>(n - 1, 0));
  std::vector<math::ScoredId> cand(static_cast<size_t>(n) * cap);
  std::vector<int64_t> count(n, 0);
  ParallelFor(n, threads, 16, [&](int64_t rb, int64_t re, int) {
    std::vector<float> score(n);
    for (int64_t j = rb; j < re; ++j) {
      const float* row = b.row(j);
      for (int64_t i = 0; i < n; ++i) score[i] = std::abs(row[i]) * (q[i] + eps);
      auto top = math::TopK(score.data(), n, static_cast<int>(cap),
                            [&](int32_t id) { return id == j || row[id] == 0.0f; });
      std::copy(top.begin(), top.end(), cand.begin() + j * cap);
      count[j] = static_cast<int64_t>(top.size());
    }
  });
  // Every row's first row_min are kept; the rest of the budget goes to the
  // best of all other candidates: a threshold, ties to earlier rows.
  int64_t forced = 0;
  for (int64_t j = 0; j < n; ++j) forced += std::min<int64_t>(row_min, count[j]);
  std::vector<float> pool;
  pool.reserve(cand.size());
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t r = row_min; r < count[j]; ++r) pool.push_back(cand[j * cap + r].score);
  }
  const int64_t budget = std::max<int64_t>(0, n * static_cast<int64_t>(top_n) - forced);
  std::vector<int64_t> keep(n);
  for (int64_t j = 0; j < n; ++j) keep[j] = std::min<int64_t>(row_min, count[j]);
  if (budget >= static_cast<int64_t>(pool.size())) {
    keep = count;
  } else if (budget > 0) {
    auto nth = pool.end() - budget;
    std::nth_element(pool.begin(), nth, pool.end());
    const float threshold = *nth;
    int64_t above = 0;
    for (float x : pool) above += x > threshold;
    int64_t ties = budget - above;
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t r = row_min; r < count[j]; ++r) {
        const float x = cand[j * cap + r].score;
        if (x > threshold || (x == threshold && ties-- > 0)) keep[j] = r + 1;
      }
    }
  }
  EaseNeighbours out;
  out.top_n = top_n;
  out.indptr.assign(n + 1, 0);
  for (int64_t j = 0; j < n; ++j) out.indptr[j + 1] = out.indptr[j] + keep[j];
  out.ids.resize(out.indptr[n]);
  out.weights.resize(out.indptr[n]);
  ParallelFor(n, threads, 64, [&](int64_t rb, int64_t re, int) {
    for (int64_t j = rb; j < re; ++j) {
      std::vector<math::ScoredId> row(cand.begin() + j * cap, cand.begin() + j * cap + keep[j]);
      for (auto& t : row) t.score = b.at(j, t.id);
      std::sort(row.begin(), row.end(), math::Better);
      for (size_t r = 0; r < row.size(); ++r) {
        out.ids[out.indptr[j] + r] = row[r].id;
        out.weights[out.indptr[j] + r] = row[r].score;
      }
    }
  });
  return out;
}

EaseNeighbours PublishedNeighbours(const math::Matrix& b, const math::CsrMatrix& by_user,
                                   const EaseParams& params) {
  if (params.truncation != Truncation::kImportance) {
    return TopNPerRow(b, params.top_n, params.threads, params.truncation);
  }
  const std::vector<float> q = TopKShare(b, by_user, params.binarize, params.importance_k,
                                         params.importance_users, params.seed, params.threads);
  return SelectByImportance(b, q, params.top_n, params.RowMin(), params.RowMax(), params.threads);
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
