#pragma once

// A planted explicit-rating problem shared by the explicit learners' tests
// (gibbs_test.cc, sgd_test.cc): known factors and biases, so a fit is
// checked against the truth rather than against the code's own output.

#include <cstdint>
#include <vector>

#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "common/mf/dataset.h"

namespace recstack::mf::testing {

constexpr double kNoise = 0.3;  // the planted rating noise's standard deviation

// A planted rank-3 model with biases, r = 3 + b_u + b_i + x_u . y_i + noise,
// observed on ~30% of the pairs; every 10th observed pair is held out.
struct Planted {
  int users = 200, items = 150;
  std::vector<Row> train, test;
  std::vector<float> truth;  // noiseless value of each test row
};

inline Planted MakePlanted(uint64_t seed) {
  Planted p;
  const int r = 3;
  math::Rng rng(seed);
  std::vector<float> x(p.users * r), y(p.items * r), bu(p.users), bi(p.items);
  for (auto& v : x) v = static_cast<float>(rng.Normal() * 0.6);
  for (auto& v : y) v = static_cast<float>(rng.Normal() * 0.6);
  for (auto& v : bu) v = static_cast<float>(rng.Normal() * 0.3);
  for (auto& v : bi) v = static_cast<float>(rng.Normal() * 0.3);
  int n = 0;
  for (int u = 0; u < p.users; ++u) {
    for (int i = 0; i < p.items; ++i) {
      if (rng.Uniform() >= 0.3) continue;
      const float clean = 3.0f + bu[u] + bi[i] + math::Dot(&x[u * r], &y[i * r], r);
      const Row row{u, i, clean + static_cast<float>(rng.Normal() * kNoise)};
      if (++n % 10 == 0) {
        p.test.push_back(row);
        p.truth.push_back(clean);
      } else {
        p.train.push_back(row);
      }
    }
  }
  return p;
}

}  // namespace recstack::mf::testing
