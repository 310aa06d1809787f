#include "common/redis/item_hash.h"

#include <charconv>

namespace recstack::redis {

std::vector<std::string> SplitCategories(std::string_view joined) {
  std::vector<std::string> out;
  while (!joined.empty()) {
    const size_t p = joined.find('|');
    out.emplace_back(joined.substr(0, p));
    if (p == std::string_view::npos) break;
    joined.remove_prefix(p + 1);
  }
  return out;
}

bool ParseItemHash(const Reply& hgetall, ItemFields* out) {
  if (hgetall.elements.empty()) return false;
  for (size_t f = 0; f + 1 < hgetall.elements.size(); f += 2) {
    const std::string& k = hgetall.elements[f].str;
    const std::string& v = hgetall.elements[f + 1].str;
    if (k == "title") {
      out->title = v;
    } else if (k == "categories") {
      out->categories = SplitCategories(v);
    } else if (k == "created_at_ms") {
      std::from_chars(v.data(), v.data() + v.size(), out->created_at_ms);
    } else if (k.rfind("attr.", 0) == 0) {
      out->attributes[k.substr(5)] = v;
    }
  }
  return true;
}

}  // namespace recstack::redis
