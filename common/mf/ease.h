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
  // Published weights per item (the row's largest).
  int32_t top_n = 200;

  absl::Status Validate() const;
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

// Per row of B the `top_n` weights (never the diagonal) that are kept:
// those largest in magnitude (default; negative weights keep pushing items
// down as in the full x_u B) or simply the largest. Stored best first (by
// weight, ties by the smaller index): what is published and served.
enum class Truncation { kMagnitude, kLargest };
struct EaseNeighbours {
  int32_t top_n = 0;
  std::vector<int64_t> indptr;  // rows + 1
  std::vector<int32_t> ids;
  std::vector<float> weights;
};
EaseNeighbours TopNPerRow(const math::Matrix& b, int32_t top_n, int threads,
                          Truncation truncation = Truncation::kMagnitude);

// out[0..n_items) = sum_i x_i (row items[i] of the truncated model), zero
// where no row has a weight: the score retrieval serves.
void TruncatedScores(const EaseNeighbours& nb, int64_t n_items, const int32_t* items,
                     const float* values, int64_t count, float* out);

}  // namespace recstack::mf
