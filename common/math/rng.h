#pragma once

// Seeded RNG, identical on every platform (STYLE rule 11): splitmix64 to
// seed xoshiro256**, with our own uniform/normal/Poisson so no
// implementation-defined std:: distribution changes the output.

#include <cmath>
#include <cstdint>

namespace recstack::math {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) {
      x += 0x9e3779b97f4a7c15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // (0, 1): safe for log().
  double UniformOpen() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }
  // [0, n) without modulo bias worth caring about for n << 2^64.
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>(Uniform() * static_cast<double>(n)); }
  // Standard normal (Box-Muller; the second value is cached).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u = UniformOpen(), v = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u));
    spare_ = r * std::sin(2.0 * M_PI * v);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * v);
  }
  // Poisson by inversion for small means, normal approximation above 30.
  int64_t Poisson(double mean) {
    if (mean <= 0) return 0;
    if (mean > 30) {
      const double x = std::round(mean + std::sqrt(mean) * Normal());
      return x < 0 ? 0 : static_cast<int64_t>(x);
    }
    const double l = std::exp(-mean);
    int64_t k = 0;
    double p = Uniform();
    while (p > l) {
      ++k;
      p *= Uniform();
    }
    return k;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace recstack::math
