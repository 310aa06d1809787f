#pragma once

// Top-K inner-product search over item factors (DESIGN §5).
//   ExactIndex: one pass of row dot products (multiversioned kernel, the
//     same cost as sgemv) and a k-heap; ties by item index. It borrows the
//     factor matrix, so it costs nothing beyond the factors themselves.
//   HnswIndex: hnswlib in inner-product space, for large catalogues; ef is
//     raised at build until recall@10 against exact reaches a target.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/math/dense.h"
#include "common/math/topk.h"

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
class InnerProductSpace;
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

struct HnswParams {
  int m = 32;
  int ef_construction = 100;
  int ef_search = 64;       // starting ef; raised by TuneEf
  uint64_t seed = 100;
  int threads = 2;          // build threads
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
  double TuneEf(const CandidateIndex& exact, const math::Matrix& queries, double target, int max_ef = 1024);
  void set_ef(int ef);
  int ef() const { return ef_; }

 private:
  int64_t n_;
  int ef_;
  std::unique_ptr<hnswlib::InnerProductSpace> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
};

// recall@k of `approx` against `exact` over the rows of `queries`.
double RecallAtK(const CandidateIndex& approx, const CandidateIndex& exact, const math::Matrix& queries, int k);

}  // namespace recstack::retrieval
