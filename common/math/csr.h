#pragma once

// Compressed sparse rows: row r's nonzeros are indices[indptr[r] ..
// indptr[r+1]) with the same positions in values. Column indices within a
// row are sorted ascending and unique.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace recstack::math {

struct Triplet {
  uint32_t row;
  uint32_t col;
  float value;
};

struct CsrMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> indptr;   // rows + 1
  std::vector<int32_t> indices;  // nnz
  std::vector<float> values;     // nnz

  int64_t nnz() const { return static_cast<int64_t>(indices.size()); }
  int64_t RowLength(int64_t r) const { return indptr[r + 1] - indptr[r]; }
  size_t bytes() const {
    return indptr.size() * sizeof(int64_t) + indices.size() * sizeof(int32_t) +
           values.size() * sizeof(float);
  }

  // Builds from triplets; duplicates (same row and col) are combined with
  // `sum_duplicates` ? sum : last-wins (by input order). Consumes `triplets`.
  static CsrMatrix FromTriplets(int64_t rows, int64_t cols, std::vector<Triplet>&& triplets,
                                bool sum_duplicates);
  CsrMatrix Transpose() const;
};

}  // namespace recstack::math
