#include "common/stats/distributions.h"

#include <gtest/gtest.h>

#include <cmath>

namespace recstack::stats {
namespace {

// Values from standard tables (and Python's statistics.NormalDist).
TEST(Normal, QuantileMatchesTables) {
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-14);
  EXPECT_NEAR(NormalQuantile(0.95), 1.6448536269514722, 1e-14);
  EXPECT_NEAR(NormalQuantile(0.8), 0.8416212335729143, 1e-14);
  EXPECT_NEAR(NormalQuantile(0.999), 3.090232306167813, 1e-13);
  EXPECT_NEAR(NormalQuantile(1e-10), -6.361340902404056, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.025), -1.959963984540054, 1e-14);
  EXPECT_EQ(NormalQuantile(0.5), 0.0);
  EXPECT_EQ(NormalQuantile(0.0), -INFINITY);
  EXPECT_EQ(NormalQuantile(1.0), INFINITY);
  EXPECT_TRUE(std::isnan(NormalQuantile(1.5)));
  EXPECT_TRUE(std::isnan(NormalQuantile(-0.1)));
}

TEST(Normal, CdfMatchesTables) {
  EXPECT_NEAR(NormalCdf(1.96), 0.9750021048517795, 1e-15);
  EXPECT_NEAR(NormalCdf(-3), 0.0013498980316301, 1e-16);
  EXPECT_NEAR(NormalSf(3), 0.0013498980316301, 1e-16);
  // Deep tail keeps its relative precision (no 1 - x cancellation).
  EXPECT_NEAR(NormalCdf(-10) / 7.619853024160527e-24, 1.0, 1e-12);
}

TEST(Normal, QuantileInvertsCdfAcrossDecades) {
  for (double p = 1e-300; p < 0.5; p *= 7.3) {
    const double x = NormalQuantile(p);
    EXPECT_NEAR(NormalCdf(x) / p, 1.0, 1e-12) << "p=" << p;
    // Upper half where 1 - p is representable: the survival function at
    // the quantile of q gives back 1 - q (exact) to full relative precision.
    const double q = 1 - p;
    if (q < 1) {
      EXPECT_NEAR(NormalSf(NormalQuantile(q)) / (1 - q), 1.0, 1e-12) << "q=" << q;
    }
  }
}

// Chi-square critical values at the 5%, 1% and 0.1% levels.
TEST(ChiSquare, SurvivalMatchesTables) {
  struct Row {
    double x, df, p;
  };
  for (const Row& r : {Row{3.841458820694124, 1, 0.05}, Row{6.6348966010212145, 1, 0.01},
                       Row{10.827566170662733, 1, 0.001}, Row{5.991464547107979, 2, 0.05},
                       Row{7.814727903251178, 3, 0.05}, Row{11.344866730144373, 3, 0.01},
                       Row{9.487729036781154, 4, 0.05}, Row{18.46682695290317, 4, 0.001},
                       Row{11.070497693516351, 5, 0.05}, Row{18.307038053275146, 10, 0.05},
                       Row{23.209251158954356, 10, 0.01}, Row{31.410432844230918, 20, 0.05},
                       Row{43.77297182574219, 30, 0.05}, Row{124.34211340400407, 100, 0.05}}) {
    EXPECT_NEAR(ChiSquareSf(r.x, r.df) / r.p, 1.0, 1e-9) << "x=" << r.x << " df=" << r.df;
  }
  EXPECT_EQ(ChiSquareSf(0, 3), 1.0);
  EXPECT_EQ(ChiSquareSf(-1, 3), 1.0);
  EXPECT_TRUE(std::isnan(ChiSquareSf(1, 0)));
}

// Closed forms: even df = Poisson tail, df = 3 and 5 through erfc; these go
// through the incomplete gamma path (only df 1 and 2 are special-cased).
TEST(ChiSquare, SurvivalMatchesClosedForms) {
  for (double x = 0.01; x < 400; x *= 1.37) {
    for (int k = 2; k <= 40; k += 3) {  // df = 2k
      double sum = 0, term = 1;
      for (int j = 0; j < k; ++j) {
        sum += term;
        term *= (x / 2) / (j + 1);
      }
      const double expected = std::exp(-x / 2) * sum;
      if (expected < 1e-300) continue;
      EXPECT_NEAR(ChiSquareSf(x, 2 * k) / expected, 1.0, 1e-11) << "x=" << x << " df=" << 2 * k;
    }
    const double e3 = std::erfc(std::sqrt(x / 2)) + std::sqrt(2 * x / M_PI) * std::exp(-x / 2);
    EXPECT_NEAR(ChiSquareSf(x, 3) / e3, 1.0, 1e-11) << "x=" << x;
    const double e5 = e3 + std::sqrt(2 * x / M_PI) * std::exp(-x / 2) * x / 3;
    EXPECT_NEAR(ChiSquareSf(x, 5) / e5, 1.0, 1e-11) << "x=" << x;
  }
}

TEST(IncompleteGamma, HalfIsErfAndPPlusQIsOne) {
  for (double x = 1e-4; x < 60; x *= 1.5) {
    EXPECT_NEAR(RegularizedGammaP(0.5, x), std::erf(std::sqrt(x)), 1e-14) << x;
    EXPECT_NEAR(RegularizedGammaQ(0.5, x) / std::erfc(std::sqrt(x)), 1.0, 1e-11) << x;
    for (double a : {0.1, 1.0, 3.5, 40.0, 250.0}) {
      EXPECT_NEAR(RegularizedGammaP(a, x) + RegularizedGammaQ(a, x), 1.0, 1e-13);
    }
    EXPECT_NEAR(RegularizedGammaQ(1, x), std::exp(-x), 1e-14 + 1e-12 * std::exp(-x));
  }
  EXPECT_TRUE(std::isnan(RegularizedGammaP(0, 1)));
  EXPECT_TRUE(std::isnan(RegularizedGammaQ(1, -1)));
}

}  // namespace
}  // namespace recstack::stats
