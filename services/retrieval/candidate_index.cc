#include "services/retrieval/candidate_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <set>
#include <thread>

#include "common/math/kernels.h"

namespace recstack::retrieval {
namespace {

// Scores are computed in blocks so the scratch stays in L2 and the heap
// sees each block while it is hot.
constexpr int64_t kBlock = 4096;

}  // namespace

std::vector<math::ScoredId> ExactIndex::Search(const float* query, int k, const Skip& skip) const {
  if (k <= 0) return {};
  const int64_t n = factors_.rows(), d = factors_.cols();
  math::TopKHeap heap(k);
  float scores[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = std::min(kBlock, n - b);
    math::RowDots(factors_.row(b), len, d, query, scores);
    for (int64_t j = 0; j < len; ++j) {
      if (heap.Full() && scores[j] < heap.Worst().score) continue;
      const int32_t id = static_cast<int32_t>(b + j);
      if (skip && skip(id)) continue;
      heap.Push(id, scores[j]);
    }
  }
  return heap.Take();
}

HnswIndex::HnswIndex(const math::Matrix& factors, HnswParams p)
    : n_(factors.rows()), ef_(p.ef_search) {
  space_ = std::make_unique<hnswlib::InnerProductSpace>(static_cast<size_t>(factors.cols()));
  index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), static_cast<size_t>(n_),
                                                            static_cast<size_t>(p.m),
                                                            static_cast<size_t>(p.ef_construction), p.seed);
  // hnswlib's addPoint is thread-safe; the first point goes in alone.
  if (n_ > 0) index_->addPoint(factors.row(0), 0);
  std::atomic<int64_t> next{1};
  auto work = [&] {
    for (int64_t i = next++; i < n_; i = next++) index_->addPoint(factors.row(i), static_cast<size_t>(i));
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(1, p.threads); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  index_->setEf(static_cast<size_t>(ef_));
}

HnswIndex::~HnswIndex() = default;

void HnswIndex::set_ef(int ef) {
  ef_ = ef;
  index_->setEf(static_cast<size_t>(ef));
}

size_t HnswIndex::memory_bytes() const {
  // Level-0 records (links + a copy of the vector + label) dominate.
  return index_->max_elements_ * index_->size_data_per_element_ +
         index_->cur_element_count * sizeof(void*);
}

std::vector<math::ScoredId> HnswIndex::Search(const float* query, int k, const Skip& skip) const {
  if (k <= 0 || n_ == 0) return {};
  // hnswlib 0.6 has no filter: ask for more and drop skipped ids, widening
  // until k survive or the whole index was asked for.
  int want = k;
  while (true) {
    auto pq = index_->searchKnn(query, static_cast<size_t>(std::min<int64_t>(want, n_)));
    std::vector<math::ScoredId> out;
    out.reserve(pq.size());
    while (!pq.empty()) {
      // InnerProductSpace distance is 1 - <q, v>.
      const auto [dist, label] = pq.top();
      pq.pop();
      const int32_t id = static_cast<int32_t>(label);
      if (!skip || !skip(id)) out.push_back({id, 1.0f - dist});
    }
    if (static_cast<int>(out.size()) >= k || want >= n_) {
      std::sort(out.begin(), out.end(), math::Better);
      if (static_cast<int>(out.size()) > k) out.resize(k);
      return out;
    }
    want *= 2;
  }
}

double RecallAtK(const CandidateIndex& approx, const CandidateIndex& exact, const math::Matrix& queries, int k) {
  if (queries.rows() == 0) return 1.0;
  double hits = 0, total = 0;
  for (int64_t q = 0; q < queries.rows(); ++q) {
    auto truth = exact.Search(queries.row(q), k, nullptr);
    auto got = approx.Search(queries.row(q), k, nullptr);
    std::set<int32_t> want;
    for (const auto& t : truth) want.insert(t.id);
    for (const auto& g : got) hits += want.count(g.id);
    total += static_cast<double>(truth.size());
  }
  return total > 0 ? hits / total : 1.0;
}

double HnswIndex::TuneEf(const CandidateIndex& exact, const math::Matrix& queries, double target, int max_ef) {
  double recall = RecallAtK(*this, exact, queries, 10);
  while (recall < target && ef_ < max_ef) {
    set_ef(std::min(max_ef, ef_ * 2));
    recall = RecallAtK(*this, exact, queries, 10);
  }
  return recall;
}

}  // namespace recstack::retrieval
