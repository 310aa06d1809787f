#pragma once

// Fold-in: the factors of a user training has not seen, from their items
// alone, against fixed item factors (DESIGN §4). Retrieval does it for new
// users at serving time; `recstack coldstart` measures how good it is. One
// exact implicit-ALS user step (Cholesky), each item with value 1.

#include <cstdint>
#include <span>
#include <vector>

#include "common/math/dense.h"

namespace recstack::mf {

// Y^T Y + lambda I (d x d, row-major) of the item factors Y: computed once
// per model, shared by every fold-in against it.
std::vector<float> GramPlusRegularization(const math::Matrix& item_factors, float regularization);

// The user's d factors; zeros for no items. `alpha` <= 0 means 1.
std::vector<float> FoldInUser(const math::Matrix& item_factors, const float* gram_plus_reg,
                              std::span<const int32_t> items, float regularization, float alpha);

}  // namespace recstack::mf
