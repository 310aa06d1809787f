// Fold-in against the closed form of the implicit-ALS user step: with every
// item valued 1 and confidence 1 + alpha, the user's factors solve
//   (Y^T Y + lambda I + alpha sum_{i in S} y_i y_i^T) x = (1 + alpha) sum_{i in S} y_i,
// here by Gaussian elimination in double precision, independent of the code
// under test.
#include "common/mf/fold_in.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/math/rng.h"

namespace recstack::mf {
namespace {

math::Matrix RandomFactors(int64_t n, int64_t d, uint64_t seed) {
  math::Matrix y(n, d);
  math::Rng rng(seed);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) y.row(i)[j] = static_cast<float>(0.3 * rng.Normal());
  return y;
}

// Solves a x = b (n x n, row-major) by Gaussian elimination with partial pivoting.
std::vector<double> Solve(std::vector<double> a, std::vector<double> b) {
  const int n = static_cast<int>(b.size());
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    for (int k = 0; k < n; ++k) std::swap(a[c * n + k], a[p * n + k]);
    std::swap(b[c], b[p]);
    for (int r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] / a[c * n + c];
      for (int k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n);
  for (int r = n - 1; r >= 0; --r) {
    double s = b[r];
    for (int k = r + 1; k < n; ++k) s -= a[r * n + k] * x[k];
    x[r] = s / a[r * n + r];
  }
  return x;
}

TEST(FoldIn, GramPlusRegularizationIsYtYPlusLambdaI) {
  const math::Matrix y = RandomFactors(50, 6, 3);
  const std::vector<float> g = GramPlusRegularization(y, 0.7f);
  for (int a = 0; a < 6; ++a) {
    for (int b = 0; b < 6; ++b) {
      double want = a == b ? 0.7 : 0.0;
      for (int i = 0; i < 50; ++i) want += static_cast<double>(y.row(i)[a]) * y.row(i)[b];
      EXPECT_NEAR(g[a * 6 + b], want, 1e-4) << a << "," << b;
    }
  }
}

TEST(FoldIn, MatchesTheClosedFormOfTheUserStep) {
  const int64_t n = 80, d = 8;
  const math::Matrix y = RandomFactors(n, d, 11);
  for (const float alpha : {0.3f, 2.0f}) {
    const float lambda = 1.5f;
    const std::vector<float> g = GramPlusRegularization(y, lambda);
    const std::vector<int32_t> items = {3, 17, 42, 43, 79};
    const std::vector<float> x = FoldInUser(y, g.data(), items, lambda, alpha);
    std::vector<double> a(d * d, 0.0), b(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < d; ++r)
        for (int64_t c = 0; c < d; ++c) a[r * d + c] += double{y.row(i)[r]} * y.row(i)[c];
    for (int64_t r = 0; r < d; ++r) a[r * d + r] += lambda;
    for (int32_t i : items) {
      for (int64_t r = 0; r < d; ++r) {
        b[r] += (1.0 + alpha) * y.row(i)[r];
        for (int64_t c = 0; c < d; ++c) a[r * d + c] += alpha * double{y.row(i)[r]} * y.row(i)[c];
      }
    }
    const std::vector<double> want = Solve(a, b);
    ASSERT_EQ(x.size(), static_cast<size_t>(d));
    for (int64_t r = 0; r < d; ++r) EXPECT_NEAR(x[r], want[r], 1e-4) << "alpha " << alpha;
  }
}

TEST(FoldIn, NoItemsIsTheZeroVectorAndAlphaAtMostZeroMeansOne) {
  const math::Matrix y = RandomFactors(30, 4, 5);
  const std::vector<float> g = GramPlusRegularization(y, 1.0f);
  EXPECT_EQ(FoldInUser(y, g.data(), {}, 1.0f, 0.5f), std::vector<float>(4, 0.0f));
  const std::vector<int32_t> items = {1, 2};
  EXPECT_EQ(FoldInUser(y, g.data(), items, 1.0f, 0.0f), FoldInUser(y, g.data(), items, 1.0f, 1.0f));
}

}  // namespace
}  // namespace recstack::mf
