#include "common/stats/distributions.h"

#include <cmath>
#include <limits>

namespace recstack::stats {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kSqrt2Pi = 2.50662827463100050242;

// Acklam's approximation of Phi^-1 on (0, 0.5]: relative error < 1.15e-9,
// then polished by Halley's method below.
double AcklamLowerHalf(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  if (p < kLow) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// log of the prefactor x^a e^-x / Gamma(a) shared by the series and the
// continued fraction.
double LogGammaPrefactor(double a, double x) { return a * std::log(x) - x - std::lgamma(a); }

// P(a, x) by its power series; converges fast for x < a + 1.
double GammaPSeries(double a, double x) {
  double ap = a, term = 1.0 / a, sum = term;
  for (int n = 0; n < 100000; ++n) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * 1e-17) break;
  }
  return sum * std::exp(LogGammaPrefactor(a, x));
}

// Q(a, x) by the continued fraction (modified Lentz); for x >= a + 1.
double GammaQContinuedFraction(double a, double x) {
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-17) break;
  }
  return std::exp(LogGammaPrefactor(a, x)) * h;
}

}  // namespace

double NormalCdf(double x) { return 0.5 * std::erfc(-x / kSqrt2); }
double NormalSf(double x) { return 0.5 * std::erfc(x / kSqrt2); }

double NormalQuantile(double p) {
  if (std::isnan(p) || p < 0 || p > 1) return kNan;
  if (p == 0) return -kInf;
  if (p == 1) return kInf;
  // Work in the lower half, where p itself carries the precision; 1 - p is
  // exact for p in [0.5, 1] (Sterbenz).
  if (p > 0.5) return -NormalQuantile(1 - p);
  double x = AcklamLowerHalf(p);
  // Halley steps on f(x) = Phi(x) - p; Phi from erfc keeps the tail exact.
  for (int i = 0; i < 3; ++i) {
    const double e = NormalCdf(x) - p;
    const double u = e * kSqrt2Pi * std::exp(0.5 * x * x);
    const double next = x - u / (1 + 0.5 * x * u);
    if (!std::isfinite(next)) break;
    if (next == x) break;
    x = next;
  }
  return x;
}

double RegularizedGammaP(double a, double x) {
  if (!(a > 0) || !(x >= 0) || std::isnan(x)) return kNan;
  if (x == 0) return 0;
  if (std::isinf(x)) return 1;
  if (x < a + 1) return GammaPSeries(a, x);
  return 1 - GammaQContinuedFraction(a, x);
}

double RegularizedGammaQ(double a, double x) {
  if (!(a > 0) || !(x >= 0) || std::isnan(x)) return kNan;
  if (x == 0) return 1;
  if (std::isinf(x)) return 0;
  if (x < a + 1) return 1 - GammaPSeries(a, x);
  return GammaQContinuedFraction(a, x);
}

double ChiSquareSf(double x, double df) {
  if (!(df > 0) || std::isnan(x)) return kNan;
  if (x <= 0) return 1;
  if (df == 1) return std::erfc(std::sqrt(0.5 * x));
  if (df == 2) return std::exp(-0.5 * x);
  return RegularizedGammaQ(0.5 * df, 0.5 * x);
}

}  // namespace recstack::stats
