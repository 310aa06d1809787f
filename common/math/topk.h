#pragma once

// Top-K selection with a k-sized heap (faiss utils/Heap.h style): the best
// k scores, ties broken by the smaller id, returned best first.

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace recstack::math {

struct ScoredId {
  int32_t id;
  float score;
  bool operator==(const ScoredId&) const = default;
};

// True when a ranks before b: higher score, or equal score and smaller id.
inline bool Better(const ScoredId& a, const ScoredId& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// Streams candidates into a bounded heap.
class TopKHeap {
 public:
  explicit TopKHeap(int k) : k_(k) { heap_.reserve(k > 0 ? k : 0); }
  void Push(int32_t id, float score);
  // The threshold a new score must beat (or tie with a smaller id) once full.
  bool Full() const { return static_cast<int>(heap_.size()) >= k_; }
  const ScoredId& Worst() const { return heap_.front(); }
  // Best first; empties the heap.
  std::vector<ScoredId> Take();

 private:
  int k_;
  std::vector<ScoredId> heap_;  // min-heap on Better (worst at front)
};

// Best k of scores[0..n), skipping ids for which `skip(id)` is true. NaN
// scores are never selected.
std::vector<ScoredId> TopK(const float* scores, int64_t n, int k,
                           const std::function<bool(int32_t)>& skip = nullptr);
// Oracle: full sort (tests).
std::vector<ScoredId> TopKBySort(const float* scores, int64_t n, int k);

}  // namespace recstack::math
