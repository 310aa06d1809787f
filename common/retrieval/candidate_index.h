#pragma once

// Top-K inner-product search over item factors (DESIGN §5).
//   ExactIndex: one pass of row dot products (multiversioned kernel, the
//     same cost as sgemv) and a k-heap; ties by item index. It borrows the
//     factor matrix, so it costs nothing beyond the factors themselves.
//   Int8ExactIndex: the same answers as ExactIndex (ids and ties), from an
//     int8 copy of the factors (per-row scale) scored first; only rows whose
//     score upper bound reaches the k-th best lower bound are re-scored in
//     fp32. Costs n * (d + 8) bytes beyond the factors.
//   HnswIndex: hnswlib in inner-product space, for large catalogues; ef is
//     raised at build until recall@10 against exact reaches a target. Level 0
//     links each new element to up to 2 * M neighbours, as FAISS does (stock
//     hnswlib stops at M), see candidate_index.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/math/dense.h"
#include "common/math/topk.h"

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
template <typename T>
class SpaceInterface;
}  // namespace hnswlib

namespace recstack::retrieval {

using Skip = std::function<bool(int32_t)>;

class CandidateIndex {
 public:
  virtual ~CandidateIndex() = default;
  // Best k items by inner product with `query` (dim() floats), skipping
  // those for which skip(index) is true; best first.
  virtual std::vector<math::ScoredId> Search(const float* query, int k, const Skip& skip) const = 0;
  virtual int64_t size() const = 0;
  virtual const char* name() const = 0;
  virtual size_t memory_bytes() const = 0;  // beyond the shared factor matrix
};

class ExactIndex final : public CandidateIndex {
 public:
  // `factors` (n x d) must outlive the index.
  explicit ExactIndex(const math::Matrix& factors) : factors_(factors) {}
  std::vector<math::ScoredId> Search(const float* query, int k, const Skip& skip) const override;
  int64_t size() const override { return factors_.rows(); }
  const char* name() const override { return "exact"; }
  size_t memory_bytes() const override { return 0; }

 private:
  const math::Matrix& factors_;
};

// Exact top-k through an int8 filter. The error bound (per row i, query q,
// row scale s_i, query scale s_q, codes c_i):
//   |<q, y_i> - s_q s_i <p, c_i>| <= s_i (s_q / 2 * |c_i|_1 + |q|_1 / 2) + fp
// makes the filter lossless: a row whose upper bound is below the k-th
// largest lower bound has k rows strictly better, so the fp32 re-score of the
// survivors (with ExactIndex's kernel) returns exactly ExactIndex's top-k.
class Int8ExactIndex final : public CandidateIndex {
 public:
  // `factors` (n x d, finite) must outlive the index.
  explicit Int8ExactIndex(const math::Matrix& factors);
  std::vector<math::ScoredId> Search(const float* query, int k, const Skip& skip) const override;
  int64_t size() const override { return factors_.rows(); }
  const char* name() const override { return "exact_int8"; }
  size_t memory_bytes() const override;
  // Rows re-scored in fp32 by the last Search on this thread (benchmarks).
  static int64_t last_rescored();

 private:
  const math::Matrix& factors_;
  std::vector<int8_t> codes_;  // n * d
  std::vector<float> scale_;   // n: y_ij ~ scale_i * code_ij
  std::vector<float> l1_;      // n: sum_j |code_ij|
};

struct HnswParams {
  int m = 16;  // docs/retrieval.md: why 16 when serving
  int ef_construction = 100;
  int ef_search = 64;  // starting ef; raised by TuneEf
  uint64_t seed = 100;
  int threads = 2;  // build threads
};

class HnswIndex final : public CandidateIndex {
 public:
  HnswIndex(const math::Matrix& factors, HnswParams params);
  ~HnswIndex() override;
  std::vector<math::ScoredId> Search(const float* query, int k, const Skip& skip) const override;
  int64_t size() const override { return n_; }
  const char* name() const override { return "hnsw"; }
  size_t memory_bytes() const override;

  // Doubles ef (up to max_ef) until recall@10 against `exact` over `queries`
  // (rows of a q x d matrix) reaches `target`; returns the recall reached.
  double TuneEf(const CandidateIndex& exact, const math::Matrix& queries, double target,
                int max_ef = 1024);
  void set_ef(int ef);
  int ef() const { return ef_; }
  // Mean number of level-0 links per element (graph quality diagnostics).
  double level0_mean_degree() const;

 private:
  int64_t n_;
  int ef_;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
};

// recall@k of `approx` against `exact` over the rows of `queries`.
double RecallAtK(const CandidateIndex& approx, const CandidateIndex& exact,
                 const math::Matrix& queries, int k);

}  // namespace recstack::retrieval
