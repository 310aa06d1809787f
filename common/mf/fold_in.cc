#include "common/mf/fold_in.h"

#include "common/math/blas.h"
#include "common/mf/als.h"

namespace recstack::mf {

std::vector<float> GramPlusRegularization(const math::Matrix& item_factors, float regularization) {
  const int64_t d = item_factors.cols();
  std::vector<float> g(d * d, 0.0f);
  math::SyrkAtA(d, item_factors.rows(), 1.0f, item_factors.data(), d, 0.0f, g.data());
  for (int64_t a = 0; a < d; ++a) g[a * d + a] += regularization;
  return g;
}

std::vector<float> FoldInUser(const math::Matrix& item_factors, const float* gram_plus_reg,
                              std::span<const int32_t> items, float regularization, float alpha) {
  const int64_t d = item_factors.cols();
  std::vector<float> x(d, 0.0f);
  if (items.empty()) return x;
  AlsParams p;
  p.factors = static_cast<int32_t>(d);
  p.regularization = regularization;
  p.alpha = alpha > 0 ? alpha : 1.0f;
  p.solver = Solver::kCholesky;
  const std::vector<float> values(items.size(), 1.0f);
  ImplicitAls::SolveUser(item_factors, gram_plus_reg, items.data(), values.data(),
                         static_cast<int64_t>(items.size()), p, x.data());
  return x;
}

}  // namespace recstack::mf
