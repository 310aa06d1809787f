#pragma once

// Seeded synthetic click data with a planted model, for the learners' tests.

#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "common/math/rng.h"
#include "common/ml/dataset.h"

namespace recstack::ml::testing {

inline double Sigmoid(double m) { return 1.0 / (1.0 + std::exp(-m)); }

// n rows of d features drawn by `draw(rng, x)`; label ~ Bernoulli(prob(x)).
inline Dataset Make(size_t n, size_t d, uint64_t seed,
                    const std::function<void(math::Rng&, std::vector<float>&)>& draw,
                    const std::function<double(const std::vector<float>&)>& prob) {
  Dataset data;
  for (size_t j = 0; j < d; ++j)
    data.feature_names.push_back(std::string("f").append(std::to_string(j)));
  math::Rng rng(seed);
  std::vector<float> x(d);
  for (size_t i = 0; i < n; ++i) {
    draw(rng, x);
    const float label = rng.Uniform() < prob(x) ? 1.0f : 0.0f;
    data.AddRow(x, label, i / 10, 1.0f);
  }
  return data;
}

// Standard normal features, P(y) = sigmoid(b + w.x).
inline Dataset MakeLinear(size_t n, const std::vector<double>& w, double b, uint64_t seed) {
  return Make(
      n, w.size(), seed,
      [](math::Rng& rng, std::vector<float>& x) {
        for (auto& v : x) v = static_cast<float>(rng.Normal());
      },
      [&](const std::vector<float>& x) {
        double m = b;
        for (size_t j = 0; j < w.size(); ++j) m += w[j] * x[j];
        return Sigmoid(m);
      });
}

}  // namespace recstack::ml::testing
