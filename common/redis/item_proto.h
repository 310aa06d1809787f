#pragma once

// An item's metadata as the API's v1::Item. Ranking (its cached ItemMeta)
// and ingestion's GetItems (ItemRecord) both read it from the same rs:item
// hash (item_hash.h) and answer it in the same message.

#include <string_view>

#include "recstack/v1/common.pb.h"

namespace recstack::redis {

// `Meta` has title, categories, created_at_ms and attributes (ItemFields'
// members).
template <typename Meta>
void FillItemProto(std::string_view item_id, const Meta& m, v1::Item* out) {
  out->set_item_id(std::string(item_id));
  out->set_title(m.title);
  for (const auto& c : m.categories) out->add_categories(c);
  out->set_created_at_ms(m.created_at_ms);
  out->mutable_attributes()->insert(m.attributes.begin(), m.attributes.end());
}

}  // namespace recstack::redis
