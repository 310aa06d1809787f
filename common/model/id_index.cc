#include "common/model/id_index.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace recstack::model {

uint64_t IdIndex::Hash(std::string_view id) {
  // libstdc++'s murmur-style hash of the bytes; its low bits pick the slot.
  return std::hash<std::string_view>{}(id);
}

IdIndex::IdIndex(const std::vector<std::string>& ids) {
  size_t bytes = 0;
  for (const auto& id : ids) bytes += id.size();
  if (bytes >= (uint64_t{1} << 32) || ids.size() >= (uint64_t{1} << 31)) {
    // Model loading bounds both far below this (STYLE rule 3: crash).
    std::fprintf(stderr, "IdIndex: %zu ids of %zu bytes are past its 32-bit offsets\n", ids.size(),
                 bytes);
    std::abort();
  }
  arena_.reserve(bytes);
  offsets_.reserve(ids.size() + 1);
  for (const auto& id : ids) {
    offsets_.push_back(static_cast<uint32_t>(arena_.size()));
    arena_ += id;
  }
  offsets_.push_back(static_cast<uint32_t>(arena_.size()));
  slots_.resize(std::bit_ceil(std::max<size_t>(16, 2 * ids.size())));
  mask_ = slots_.size() - 1;
  for (size_t row = 0; row < ids.size(); ++row) {
    const uint64_t h = Hash(ids[row]);
    for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
      Slot& slot = slots_[s];
      if (slot.row < 0) {
        slot = {h, static_cast<int32_t>(row)};
        ++size_;
        break;
      }
      if (slot.hash == h && Key(slot.row) == ids[row]) break;  // a repeat: first row wins
    }
  }
}

int32_t IdIndex::Probe(std::string_view id, uint64_t h) const {
  if (slots_.empty()) return -1;
  for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
    const Slot& slot = slots_[s];
    if (slot.row < 0) return -1;
    if (slot.hash == h && Key(slot.row) == id) return slot.row;
  }
}

int32_t IdIndex::Find(std::string_view id) const { return Probe(id, Hash(id)); }

namespace {

// Hashes every id and prefetches its first slot, `kAhead` ids ahead of the
// probes, so the table's cache misses overlap.
template <typename Id, typename HashFn, typename ProbeFn, typename SlotAddr>
void FindBatch(std::span<const Id> ids, std::vector<int32_t>* rows, HashFn hash, ProbeFn probe,
               SlotAddr slot_addr) {
  constexpr size_t kAhead = 16;
  const size_t n = ids.size();
  rows->resize(n);
  std::vector<uint64_t> h(n);
  for (size_t i = 0; i < n; ++i) {
    h[i] = hash(ids[i]);
    if (i < kAhead) __builtin_prefetch(slot_addr(h[i]));
  }
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) __builtin_prefetch(slot_addr(h[i + kAhead]));
    (*rows)[i] = probe(ids[i], h[i]);
  }
}

}  // namespace

void IdIndex::FindAll(std::span<const std::string_view> ids, std::vector<int32_t>* rows) const {
  if (slots_.empty()) {
    rows->assign(ids.size(), -1);
    return;
  }
  FindBatch(
      ids, rows, [](std::string_view id) { return Hash(id); },
      [this](std::string_view id, uint64_t h) { return Probe(id, h); },
      [this](uint64_t h) { return &slots_[h & mask_]; });
}

void IdIndex::FindAll(std::span<const std::string> ids, std::vector<int32_t>* rows) const {
  if (slots_.empty()) {
    rows->assign(ids.size(), -1);
    return;
  }
  FindBatch(
      ids, rows, [](const std::string& id) { return Hash(id); },
      [this](const std::string& id, uint64_t h) { return Probe(id, h); },
      [this](uint64_t h) { return &slots_[h & mask_]; });
}

size_t IdIndex::bytes() const {
  return slots_.size() * sizeof(Slot) + offsets_.size() * sizeof(uint32_t) + arena_.size();
}

}  // namespace recstack::model
