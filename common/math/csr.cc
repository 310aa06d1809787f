#include "common/math/csr.h"

#include <algorithm>
#include <numeric>

namespace recstack::math {

CsrMatrix CsrMatrix::FromTriplets(int64_t rows, int64_t cols, std::vector<Triplet>&& t,
                                  bool sum_duplicates) {
  // Counting sort by row keeps input order within a row (needed for
  // last-wins), then each row is sorted by column stably.
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  std::vector<int64_t> count(rows + 1, 0);
  for (const auto& x : t) count[x.row + 1]++;
  std::partial_sum(count.begin(), count.end(), count.begin());
  std::vector<int32_t> cols_tmp(t.size());
  std::vector<float> vals_tmp(t.size());
  {
    std::vector<int64_t> next(count.begin(), count.end() - 1);
    for (const auto& x : t) {
      int64_t p = next[x.row]++;
      cols_tmp[p] = static_cast<int32_t>(x.col);
      vals_tmp[p] = x.value;
    }
  }
  std::vector<Triplet>().swap(t);  // release the input before growing more
  m.indptr.assign(rows + 1, 0);
  m.indices.reserve(cols_tmp.size());
  m.values.reserve(cols_tmp.size());
  std::vector<int64_t> order;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = count[r], e = count[r + 1];
    order.resize(e - b);
    std::iota(order.begin(), order.end(), b);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t c) { return cols_tmp[a] < cols_tmp[c]; });
    for (size_t k = 0; k < order.size(); ++k) {
      const int64_t p = order[k];
      if (!m.indices.empty() && static_cast<int64_t>(m.indices.size()) > m.indptr[r] &&
          m.indices.back() == cols_tmp[p]) {
        m.values.back() = sum_duplicates ? m.values.back() + vals_tmp[p] : vals_tmp[p];
      } else {
        m.indices.push_back(cols_tmp[p]);
        m.values.push_back(vals_tmp[p]);
      }
    }
    m.indptr[r + 1] = static_cast<int64_t>(m.indices.size());
  }
  m.indices.shrink_to_fit();
  m.values.shrink_to_fit();
  return m;
}

CsrMatrix CsrMatrix::Transpose() const {
  CsrMatrix t;
  t.rows = cols;
  t.cols = rows;
  t.indptr.assign(cols + 1, 0);
  for (int32_t c : indices) t.indptr[c + 1]++;
  std::partial_sum(t.indptr.begin(), t.indptr.end(), t.indptr.begin());
  t.indices.resize(indices.size());
  t.values.resize(values.size());
  std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  // Rows visited in order, so each transposed row's columns come out sorted.
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t p = indptr[r]; p < indptr[r + 1]; ++p) {
      int64_t q = next[indices[p]]++;
      t.indices[q] = static_cast<int32_t>(r);
      t.values[q] = values[p];
    }
  }
  return t;
}

}  // namespace recstack::math
