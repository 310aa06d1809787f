#pragma once

// The item side of a factors version as a lookup table: id -> vector. What a
// consumer needs that only compares items (ranking's MMR diversity), without
// retrieval's indexes.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/math/dense.h"
#include "common/model/holder.h"
#include "common/model/id_index.h"
#include "common/model/model_store.h"

namespace recstack::model {

struct ItemVectors {
  ModelMeta meta;
  IdIndex index;         // item id -> row
  math::Matrix factors;  // n_items x meta.factors

  // The item's vector (meta.factors floats), nullptr for an unknown id.
  const float* Find(std::string_view item_id) const {
    const int32_t row = index.Find(item_id);
    return row < 0 ? nullptr : factors.row(row);
  }
};

ItemVectors MakeItemVectors(ItemFactors items);

// Follows the factors slot, holding its item vectors.
using ItemVectorsHolder = VersionedHolder<ItemVectors>;
std::unique_ptr<ItemVectorsHolder> MakeItemVectorsHolder(
    ModelStore& store, redis::Options redis_options, redis::Keyspace keys,
    std::chrono::milliseconds poll_interval = std::chrono::milliseconds(5000));

}  // namespace recstack::model
