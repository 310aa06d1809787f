#pragma once

// Distribution functions the experiment readout needs: the standard normal
// (cdf, survival, quantile) and the chi-square survival function through the
// regularized incomplete gamma function. Written here, without a statistics
// library, so the readout has no dependency beyond the C++ standard library;
// tests check them against tabulated values and closed forms.

namespace recstack::stats {

// Standard normal Phi(x) and 1 - Phi(x), each accurate in its own tail
// (both go through std::erfc, never 1 - something).
double NormalCdf(double x);
double NormalSf(double x);

// Phi^-1(p) for p in (0, 1); -inf at 0, +inf at 1, NaN outside [0, 1].
// Acklam's rational approximation refined by Halley steps on erfc:
// relative error near double precision across (1e-300, 1 - 1e-16).
double NormalQuantile(double p);

// Regularized lower / upper incomplete gamma P(a, x), Q(a, x) = 1 - P, for
// a > 0, x >= 0 (NaN otherwise). Series for x < a + 1, Lentz's continued
// fraction above (Numerical Recipes §6.2), so the smaller of the two is
// computed directly and never as 1 - (something near 1).
double RegularizedGammaP(double a, double x);
double RegularizedGammaQ(double a, double x);

// P(X > x) for X ~ chi-square with `df` degrees of freedom (df > 0).
// df = 1 goes through erfc(sqrt(x / 2)) and df = 2 through exp(-x / 2),
// the closed forms; every other df through Q(df / 2, x / 2).
double ChiSquareSf(double x, double df);

}  // namespace recstack::stats
