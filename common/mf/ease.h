#pragma once

// EASE, the embarrassingly shallow autoencoder (Steck 2019, "Embarrassingly
// Shallow Autoencoders for Sparse Data", WWW '19): an item-item weight matrix
// B (items x items) that predicts each item's column of X from the others,
//   min_B |X - X B|_F^2 + lambda |B|_F^2  subject to diag(B) = 0,
// with the closed form
//   P = (X^T X + lambda I)^-1,   B = I - P diag(1 / diag(P))
// (B_ij = -P_ij / P_jj off the diagonal, B_jj = 0). A user's scores are x_u B.
//
// Cost: the Gram X^T X and B are dense items x items float32 (n^2 * 4 bytes:
// 1.6 GB at 20,000 items), built in one buffer and inverted in place by
// LAPACK Cholesky (spotrf + spotri, O(n^3)); FitEase refuses more than
// EaseParams::max_items items.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/math/csr.h"
#include "common/math/dense.h"

namespace recstack::mf {

enum class GramMethod {
  kAuto,    // the cheaper of the two by an estimate of their work
  kSparse,  // per item, its users' rows: sum over users of n_u^2 / 2 updates
  kSyrk,    // dense blocks of user rows through BLAS ssyrk: users * n^2 flops
};

// How the published model keeps part of B (every kept weight is B's own:
// the served score is exact EASE on the kept weights, x_u B with the
// dropped weights taken as zero).
enum class Truncation {
  // Default. The n_items * top_n weights largest in |B_ji| * q_i over the
  // whole model, where q_i is the share of training users whose full top-10
  // holds item i (TopKShare): a weight into an item nobody would be shown
  // cannot change anybody's top 10, so the budget goes where it can. Rows
  // then hold different numbers of weights (row_min .. row_max).
  kImportance,
  kMagnitude,  // per row, the top_n largest in |B_ji|
  kLargest,    // per row, the top_n largest B_ji (negative weights all dropped)
};
// "importance" / "magnitude" / "largest" (the published model's params).
std::string TruncationName(Truncation t);

struct EaseParams {
  // lambda. 300 on binary X gives NDCG@10 0.481 on MovieLens 100K
  // (stratified 75/25, mean of seeds 42-44; docs/bench/ease_ml100k.json);
  // `recstack tune --algo ease --regularization ...` searches it.
  float lambda = 300.0f;
  // Catalogues above this are refused: n^2 * 4 bytes of memory, n^3 time.
  int64_t max_items = 30'000;
  // X as 0/1 (Steck's setup); false = the raw interaction values.
  bool binarize = true;
  int32_t threads = 2;
  GramMethod gram = GramMethod::kAuto;

  // The published model (PublishedNeighbours): top_n weights per item on
  // average, n_items * top_n in all (kMagnitude / kLargest: exactly top_n
  // per item). docs/retrieval.md has the recall of each against the full
  // x_u B.
  int32_t top_n = 200;
  Truncation truncation = Truncation::kImportance;
  // kImportance: each item keeps at least row_min and at most row_max of its
  // nonzero weights; 0 = top_n / 10 and 4 * top_n.
  int32_t row_min = 0;
  int32_t row_max = 0;
  // kImportance: q is measured on the top `importance_k` of at most
  // `importance_users` training users (a sample drawn with `seed` when
  // there are more): x_u B costs n_items per history item.
  int32_t importance_k = 10;
  int64_t importance_users = 10'000;
  uint64_t seed = 42;

  absl::Status Validate() const;
  int32_t RowMin() const { return row_min > 0 ? row_min : top_n / 10; }
  int32_t RowMax() const { return row_max > 0 ? row_max : 4 * top_n; }
};

struct EaseFitStats {
  double gram_seconds = 0, inverse_seconds = 0, finish_seconds = 0;
  std::string gram_method;  // "sparse" or "syrk"
};

// Gram X^T X (n_items x n_items, both triangles filled) of `by_user` (its
// transpose `by_item`), the values binarized or not. Exposed for tests and
// the benchmark.
void GramSparse(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item, bool binarize,
                int threads, math::Matrix* gram);
void GramSyrk(const math::CsrMatrix& by_user, bool binarize, int threads, math::Matrix* gram);

// Inverts a symmetric positive definite matrix in place (LAPACK spotrf +
// spotri, `threads` BLAS threads). FailedPrecondition when it is not SPD.
absl::Status InvertSpd(math::Matrix* a, int threads);

// B for by_user (users x items, values r) and its transpose by_item.
// INVALID_ARGUMENT for lambda <= 0 or more than max_items items.
absl::StatusOr<math::Matrix> FitEase(const math::CsrMatrix& by_user, const math::CsrMatrix& by_item,
                                     const EaseParams& params, EaseFitStats* stats = nullptr);

// out[0..n) = sum_i x_i B[items[i], :] for a user's items and values (pass
// binarized values when the model was trained binarized).
void EaseScores(const math::Matrix& b, const int32_t* items, const float* values, int64_t count,
                float* out);

// A sparse part of B, by row: what is published and served. Row j's kept
// weights are ids/weights[indptr[j] .. indptr[j+1]), stored best first (by
// weight, ties by the smaller index); never the diagonal (and from
// SelectByImportance never a zero weight).
struct EaseNeighbours {
  int32_t top_n = 0;            // the budget asked for (mean per row for kImportance)
  std::vector<int64_t> indptr;  // rows + 1
  std::vector<int32_t> ids;
  std::vector<float> weights;

  int32_t MostPerRow() const;  // the longest row (the model meta's `neighbours`)
};

// Per row of B its `top_n` weights largest in magnitude (kMagnitude) or
// simply the largest (kLargest; kImportance is refused here: it needs
// TopKShare, see PublishedNeighbours).
EaseNeighbours TopNPerRow(const math::Matrix& b, int32_t top_n, int threads,
                          Truncation truncation = Truncation::kMagnitude);

// q_i for Truncation::kImportance: the share of users whose top k by the
// full x_u B (their own items excluded, ties by the smaller index) holds
// item i. The users are by_user's rows with at least one item, or a sample
// of `max_users` of them drawn with `seed`; values binarized as in training
// when `binarize`. Sums to k (fewer for users with fewer than k unseen items).
std::vector<float> TopKShare(const math::Matrix& b, const math::CsrMatrix& by_user, bool binarize,
                             int k, int64_t max_users, uint64_t seed, int threads);

// Truncation::kImportance given q (n_items long): the n_items * top_n
// weights largest in |B_ji| * (q_i + eps) over the whole matrix, each row
// keeping at least min(row_min, its nonzero weights) and at most row_max
// (eps = 1e-3 of the smallest nonzero q: a weight into an item no user
// would be shown comes after the others unless it is 1000 times heavier).
// Ties at the budget's edge go to earlier rows.
EaseNeighbours SelectByImportance(const math::Matrix& b, const std::vector<float>& q, int32_t top_n,
                                  int32_t row_min, int32_t row_max, int threads);

// The published model of B trained on by_user (users x items, as trained):
// params.truncation with params' budget.
EaseNeighbours PublishedNeighbours(const math::Matrix& b, const math::CsrMatrix& by_user,
                                   const EaseParams& params);

// out[0..n_items) = sum_i x_i (row items[i] of the truncated model), zero
// where no row has a weight: the score retrieval serves.
void TruncatedScores(const EaseNeighbours& nb, int64_t n_items, const int32_t* items,
                     const float* values, int64_t count, float* out);

}  // namespace recstack::mf
