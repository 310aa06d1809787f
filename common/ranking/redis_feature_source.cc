#include "common/ranking/redis_feature_source.h"

#include "absl/strings/str_cat.h"
#include "common/redis/item_hash.h"
#include "common/redis/popularity.h"
#include "common/status/status.h"

namespace recstack::ranking {
namespace {

std::vector<std::string> MetaCommand(const redis::Keyspace& keys, std::string_view item) {
  return {"HGETALL", keys.Item(item)};
}

// Known when the hash exists.
ItemMeta ParseMeta(const redis::Reply& r) {
  ItemMeta m;
  redis::ItemFields f;
  if (!redis::ParseItemHash(r, &f)) return m;
  m.known = true;
  m.categories = std::move(f.categories);
  m.created_at_ms = f.created_at_ms;
  m.title = std::move(f.title);
  m.attributes = std::move(f.attributes);
  return m;
}

}  // namespace

RedisFeatureSource::RedisFeatureSource(redis::Pool& pool, redis::Keyspace keys)
    : pool_(pool), keys_(std::move(keys)) {}

absl::StatusOr<FeatureReads> RedisFeatureSource::Read(std::string_view user, int recent_items,
                                                      const std::vector<std::string>& popularity_of,
                                                      std::span<const std::string_view> meta_of,
                                                      int64_t now_ms) {
  std::vector<std::vector<std::string>> cmds;
  // The history: none asked (handed on by retrieval), no commands.
  const size_t n_hist = recent_items > 0 ? 2 : 0;
  if (n_hist > 0) {
    const std::string hist = keys_.History(user);
    cmds.push_back({"ZCARD", hist});
    cmds.push_back({"ZREVRANGE", hist, "0", std::to_string(recent_items - 1)});
  }
  // No counts asked (all cached): no trending commands.
  const size_t n_trend = popularity_of.empty() ? 0 : 2 * static_cast<size_t>(keys_.partitions());
  if (n_trend > 0) {
    for (auto& c : redis::TrendingCountsCommands(keys_, popularity_of))
      cmds.push_back(std::move(c));
  }
  for (std::string_view item : meta_of) cmds.push_back(MetaCommand(keys_, item));
  FeatureReads out;
  if (cmds.empty()) return out;
  RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(cmds));
  for (const auto& r : replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
  }
  if (n_hist > 0) {
    out.history_len = static_cast<double>(replies[0].integer);
    out.recent.reserve(replies[1].elements.size());
    for (auto& e : replies[1].elements) out.recent.push_back(std::move(e.str));
  }
  if (n_trend > 0) {
    RECSTACK_ASSIGN_OR_RETURN(
        out.popularity,
        redis::ParseTrendingCounts(std::span<const redis::Reply>(replies).subspan(n_hist, n_trend),
                                   popularity_of.size(), now_ms));
  }
  out.items.reserve(meta_of.size());
  for (size_t j = 0; j < meta_of.size(); ++j)
    out.items.push_back(ParseMeta(replies[n_hist + n_trend + j]));
  return out;
}

absl::StatusOr<std::vector<ItemMeta>> RedisFeatureSource::ReadItems(
    std::span<const std::string_view> ids) {
  std::vector<std::vector<std::string>> cmds;
  cmds.reserve(ids.size());
  for (std::string_view item : ids) cmds.push_back(MetaCommand(keys_, item));
  RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(cmds));
  std::vector<ItemMeta> out;
  out.reserve(ids.size());
  for (const auto& r : replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
    out.push_back(ParseMeta(r));
  }
  return out;
}

}  // namespace recstack::ranking
