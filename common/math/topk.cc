#include "common/math/topk.h"

#include <algorithm>
#include <cmath>

namespace recstack::math {
namespace {

// Heap order: the worst element at the front.
bool HeapLess(const ScoredId& a, const ScoredId& b) { return Better(a, b); }

}  // namespace

void TopKHeap::Push(int32_t id, float score) {
  if (k_ <= 0 || std::isnan(score)) return;
  ScoredId s{id, score};
  if (static_cast<int>(heap_.size()) < k_) {
    heap_.push_back(s);
    std::push_heap(heap_.begin(), heap_.end(), HeapLess);
  } else if (Better(s, heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), HeapLess);
    heap_.back() = s;
    std::push_heap(heap_.begin(), heap_.end(), HeapLess);
  }
}

std::vector<ScoredId> TopKHeap::Take() {
  std::sort_heap(heap_.begin(), heap_.end(), HeapLess);
  std::vector<ScoredId> out;
  out.swap(heap_);
  return out;
}

std::vector<ScoredId> TopK(const float* scores, int64_t n, int k,
                           const std::function<bool(int32_t)>& skip) {
  if (k <= 0) return {};
  TopKHeap heap(k);
  for (int64_t i = 0; i < n; ++i) {
    const float s = scores[i];
    // Cheap reject before the skip test and the heap.
    if (heap.Full() && s < heap.Worst().score) continue;
    if (skip && skip(static_cast<int32_t>(i))) continue;
    heap.Push(static_cast<int32_t>(i), s);
  }
  return heap.Take();
}

std::vector<ScoredId> TopKBySort(const float* scores, int64_t n, int k) {
  std::vector<ScoredId> all;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isnan(scores[i])) all.push_back({static_cast<int32_t>(i), scores[i]});
  }
  std::sort(all.begin(), all.end(), Better);
  if (static_cast<int64_t>(all.size()) > k) all.resize(std::max(k, 0));
  return all;
}

}  // namespace recstack::math
