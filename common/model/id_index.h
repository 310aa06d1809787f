#pragma once

// Item id -> row, for the request path: an open-addressing table of
// (64-bit hash, row) slots over one arena of the ids' bytes, built once per
// model version and read without locks.
//
// Why not std::unordered_map<std::string, int32_t>: each lookup there walks
// a bucket, then a node allocated apart from every other, so a 100k-item
// table costs two or three dependent cache misses per id. Retrieval looks up
// every item of a user's history (up to 500) per request, and the walk was
// 11% of its CPU (docs/serving.md). Here a lookup is one slot (linear probing
// at a load of at most 1/2) and one compare in the arena, and FindAll
// prefetches the slots of a batch before it probes, so the misses of many
// ids overlap instead of following one another.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace recstack::model {

class IdIndex {
 public:
  IdIndex() = default;
  // Row i is ids[i]. A repeated id keeps its first row.
  explicit IdIndex(const std::vector<std::string>& ids);

  // The row of `id`, or -1.
  int32_t Find(std::string_view id) const;
  // rows[i] = Find(ids[i]); rows is resized to ids.size().
  void FindAll(std::span<const std::string_view> ids, std::vector<int32_t>* rows) const;
  void FindAll(std::span<const std::string> ids, std::vector<int32_t>* rows) const;

  // Distinct ids held.
  size_t size() const { return size_; }
  // Bytes held (slots, offsets, arena), for logs and memory estimates.
  size_t bytes() const;

 private:
  struct Slot {
    uint64_t hash = 0;
    int32_t row = -1;  // -1: empty
  };
  static uint64_t Hash(std::string_view id);
  std::string_view Key(int32_t row) const {
    return std::string_view(arena_).substr(offsets_[row], offsets_[row + 1] - offsets_[row]);
  }
  int32_t Probe(std::string_view id, uint64_t h) const;

  std::vector<Slot> slots_;        // a power of two, at least twice the ids
  std::vector<uint32_t> offsets_;  // row -> its id in arena_; one past the last
  std::string arena_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace recstack::model
