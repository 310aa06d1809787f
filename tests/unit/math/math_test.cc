#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "common/math/blas.h"
#include "common/math/csr.h"
#include "common/math/dense.h"
#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "common/math/topk.h"

namespace recstack::math {
namespace {

TEST(TopK, EqualsFullSortWithTiesById) {
  Rng rng(1);
  for (int trial = 0; trial < 50; ++trial) {
    const int n = 1 + static_cast<int>(rng.Below(3000));
    std::vector<float> s(n);
    // Few distinct values: many ties.
    for (auto& x : s) x = static_cast<float>(rng.Below(20));
    for (int k : {1, 5, 10, 100, n + 5}) {
      EXPECT_EQ(TopK(s.data(), n, k), TopKBySort(s.data(), n, k)) << "n=" << n << " k=" << k;
    }
  }
}

TEST(TopK, SkipsAndIgnoresNan) {
  std::vector<float> s = {0.5f, NAN, 0.9f, 0.9f, 0.1f};
  auto top = TopK(s.data(), 5, 3, [](int32_t id) { return id == 2; });
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0], (ScoredId{3, 0.9f}));
  EXPECT_EQ(top[1], (ScoredId{0, 0.5f}));
  EXPECT_EQ(top[2], (ScoredId{4, 0.1f}));
  EXPECT_TRUE(TopK(s.data(), 5, 0).empty());
}

TEST(Csr, FromTripletsSumsOrKeepsLast) {
  std::vector<Triplet> t = {{1, 2, 1.f}, {0, 1, 2.f}, {1, 2, 3.f}, {1, 0, 4.f}};
  auto summed = CsrMatrix::FromTriplets(3, 3, std::vector<Triplet>(t), true);
  EXPECT_EQ(summed.indptr, (std::vector<int64_t>{0, 1, 3, 3}));
  EXPECT_EQ(summed.indices, (std::vector<int32_t>{1, 0, 2}));
  EXPECT_EQ(summed.values, (std::vector<float>{2.f, 4.f, 4.f}));
  auto last = CsrMatrix::FromTriplets(3, 3, std::move(t), false);
  EXPECT_EQ(last.values, (std::vector<float>{2.f, 4.f, 3.f}));
}

TEST(Csr, TransposeTwiceIsIdentity) {
  Rng rng(3);
  std::vector<Triplet> t;
  for (int i = 0; i < 500; ++i) {
    t.push_back({static_cast<uint32_t>(rng.Below(40)), static_cast<uint32_t>(rng.Below(30)),
                 static_cast<float>(rng.Uniform())});
  }
  auto m = CsrMatrix::FromTriplets(40, 30, std::move(t), true);
  auto tt = m.Transpose();
  EXPECT_EQ(tt.rows, 30);
  EXPECT_EQ(tt.nnz(), m.nnz());
  auto back = tt.Transpose();
  EXPECT_EQ(back.indptr, m.indptr);
  EXPECT_EQ(back.indices, m.indices);
  EXPECT_EQ(back.values, m.values);
}

TEST(Blas, GemmSyrkGemvMatchLoops) {
  Rng rng(4);
  const int m = 7, k = 5, n = 6;
  Matrix a(m, k), b(k, n), c(m, n);
  for (size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<float>(rng.Normal());
  for (size_t i = 0; i < b.size(); ++i) b.data()[i] = static_cast<float>(rng.Normal());
  Gemm(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c.data(), n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      float s = 0;
      for (int p = 0; p < k; ++p) s += a.at(i, p) * b.at(p, j);
      EXPECT_NEAR(c.at(i, j), s, 1e-4);
    }
  }
  Matrix g(k, k);
  SyrkAtA(k, m, 1.f, a.data(), k, 0.f, g.data());
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < k; ++j) {
      float s = 0;
      for (int p = 0; p < m; ++p) s += a.at(p, i) * a.at(p, j);
      EXPECT_NEAR(g.at(i, j), s, 1e-4);
    }
  }
  std::vector<float> x(k), y(m), dots(m);
  for (auto& v : x) v = static_cast<float>(rng.Normal());
  Gemv(false, m, k, 1.f, a.data(), k, x.data(), 0.f, y.data());
  RowDots(a.data(), m, k, x.data(), dots.data());
  for (int i = 0; i < m; ++i) {
    EXPECT_NEAR(y[i], Dot(a.row(i), x.data(), k), 1e-4);
    EXPECT_NEAR(dots[i], y[i], 1e-4);
  }
}

TEST(Kernels, DotAndAxpyOnOddLengths) {
  for (int n : {0, 1, 15, 16, 17, 64, 100}) {
    std::vector<float> a(n), b(n);
    for (int i = 0; i < n; ++i) {
      a[i] = 0.5f * i;
      b[i] = 1.0f - 0.01f * i;
    }
    double ref = 0;
    for (int i = 0; i < n; ++i) ref += static_cast<double>(a[i]) * b[i];
    EXPECT_NEAR(Dot(a.data(), b.data(), n), ref, 1e-3 * (1 + std::abs(ref)));
    Axpy(2.f, a.data(), b.data(), n);
    for (int i = 0; i < n; ++i) EXPECT_FLOAT_EQ(b[i], 1.0f - 0.01f * i + 2.f * 0.5f * i);
  }
}

TEST(Rng, DeterministicAndWellShaped) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Next(), b.Next());
  EXPECT_NE(Rng(42).Next(), c.Next());
  Rng r(7);
  double sum = 0, sq = 0, pois = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = r.Normal();
    sum += x;
    sq += x * x;
    pois += static_cast<double>(r.Poisson(3.0));
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
  EXPECT_NEAR(pois / n, 3.0, 0.03);
}

TEST(Matrix, AlignedAndZeroed) {
  Matrix m(3, 5);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % 64, 0u);
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m.data()[i], 0.f);
  m.at(2, 4) = 1.f;
  Matrix copy = m;
  EXPECT_EQ(copy.at(2, 4), 1.f);
}

}  // namespace
}  // namespace recstack::math
