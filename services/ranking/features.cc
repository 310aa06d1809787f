#include "services/ranking/features.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"

#include "common/redis/popularity.h"
#include "common/status/status.h"

namespace recstack::ranking {
namespace {

std::vector<std::string> SplitCats(const std::string& s) {
  std::vector<std::string> out;
  std::string_view rest = s;
  while (!rest.empty()) {
    size_t p = rest.find('|');
    out.emplace_back(rest.substr(0, p));
    if (p == std::string_view::npos) break;
    rest.remove_prefix(p + 1);
  }
  return out;
}

thread_local int tls_round_trips = 0;

ItemMeta ParseMeta(const redis::Reply& r) {
  ItemMeta m;
  if (r.elements.size() != 2) return m;
  if (r.elements[0].is_string()) {
    m.known = true;
    m.categories = SplitCats(r.elements[0].str);
  }
  if (r.elements[1].is_string()) {
    m.known = true;
    const std::string& v = r.elements[1].str;
    std::from_chars(v.data(), v.data() + v.size(), m.created_at_ms);
  }
  return m;
}

}  // namespace

FeatureAssembler::FeatureAssembler(redis::Pool& pool, redis::Keyspace keys, const Clock& clock,
                                   FeatureOptions options)
    : pool_(pool), keys_(std::move(keys)), clock_(clock), options_(options),
      items_(options.item_cache_size, options.item_cache_ttl),
      popularity_(options.item_cache_size, options.popularity_ttl) {}

int FeatureAssembler::last_round_trips() { return tls_round_trips; }

absl::StatusOr<std::vector<FeatureRow>> FeatureAssembler::Assemble(
    std::string_view user, const std::vector<CandidateIn>& cands) {
  tls_round_trips = 0;
  // Candidates' metadata: the cache first, the misses in the pipeline.
  std::vector<std::optional<ItemMeta>> meta(cands.size());
  std::vector<size_t> missing;
  for (size_t i = 0; i < cands.size(); ++i) {
    meta[i] = items_.Get(cands[i].item_id);
    if (!meta[i].has_value()) missing.push_back(i);
  }
  // One round trip: the user's history size and recent items, the trending
  // counts of every candidate, the metadata the cache lacks.
  // Trending counts: the cached ones and the misses (one ZMSCORE per
  // partition for those only).
  std::vector<double> pop(cands.size(), 0.0);
  std::vector<std::string> ids;
  std::vector<size_t> pop_missing;
  ids.reserve(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    if (auto cached = popularity_.Get(cands[i].item_id)) {
      pop[i] = *cached;
      continue;
    }
    pop_missing.push_back(i);
    ids.push_back(cands[i].item_id);
  }
  std::vector<std::vector<std::string>> cmds;
  const std::string hist = keys_.History(user);
  cmds.push_back({"ZCARD", hist});
  cmds.push_back({"ZREVRANGE", hist, "0", std::to_string(options_.recent_items - 1)});
  const size_t n_trend = ids.empty() ? 0 : 2 * static_cast<size_t>(keys_.partitions());
  if (n_trend > 0) {
    for (auto& c : redis::TrendingCountsCommands(keys_, ids)) cmds.push_back(std::move(c));
  }
  for (size_t i : missing)
    cmds.push_back({"HMGET", keys_.Item(cands[i].item_id), "categories", "created_at_ms"});
  RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(cmds));
  tls_round_trips++;
  for (const auto& r : replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
  }
  const int64_t now = clock_.NowMs();
  const double history_len = static_cast<double>(replies[0].integer);
  if (n_trend > 0) {
    RECSTACK_ASSIGN_OR_RETURN(
        std::vector<double> fetched,
        redis::ParseTrendingCounts(std::span<const redis::Reply>(replies).subspan(2, n_trend),
                                   ids.size(), now));
    for (size_t j = 0; j < pop_missing.size(); ++j) {
      pop[pop_missing[j]] = fetched[j];
      popularity_.Put(ids[j], fetched[j]);
    }
  }
  for (size_t j = 0; j < missing.size(); ++j) {
    ItemMeta m = ParseMeta(replies[2 + n_trend + j]);
    items_.Put(cands[missing[j]].item_id, m);
    meta[missing[j]] = std::move(m);
  }
  // Categories of the recent items: cached, or one more (smaller) trip.
  std::vector<std::string> recent;
  for (const auto& e : replies[1].elements) recent.push_back(e.str);
  std::vector<std::optional<ItemMeta>> recent_meta(recent.size());
  std::vector<std::vector<std::string>> recent_cmds;
  std::vector<size_t> recent_missing;
  for (size_t i = 0; i < recent.size(); ++i) {
    recent_meta[i] = items_.Get(recent[i]);
    if (!recent_meta[i].has_value()) {
      recent_missing.push_back(i);
      recent_cmds.push_back({"HMGET", keys_.Item(recent[i]), "categories", "created_at_ms"});
    }
  }
  if (!recent_cmds.empty()) {
    RECSTACK_ASSIGN_OR_RETURN(auto more, pool_.Pipeline(recent_cmds));
    tls_round_trips++;
    for (size_t j = 0; j < recent_missing.size(); ++j) {
      if (more[j].is_error()) return absl::UnavailableError(absl::StrCat("redis: ", more[j].str));
      ItemMeta m = ParseMeta(more[j]);
      items_.Put(recent[recent_missing[j]], m);
      recent_meta[recent_missing[j]] = std::move(m);
    }
  }
  FeatureInputs in;
  in.now_ms = now;
  in.history_len = history_len;
  in.popularity = std::move(pop);
  in.items.reserve(cands.size());
  for (auto& m : meta) in.items.push_back(std::move(*m));
  in.recent.reserve(recent_meta.size());
  for (auto& m : recent_meta) in.recent.push_back(std::move(*m));
  return ComputeFeatures(cands, in);
}

std::vector<FeatureRow> ComputeFeatures(const std::vector<CandidateIn>& cands,
                                        const FeatureInputs& in) {
  std::unordered_map<std::string, double> user_cats;
  double user_cat_total = 0;
  for (const ItemMeta& m : in.recent) {
    for (const auto& c : m.categories) {
      user_cats[c] += 1;
      user_cat_total += 1;
    }
  }
  // Scores of different sources are on different scales (dot products,
  // cosines, counts): each source's best candidate scores 1.
  std::unordered_map<std::string, double> source_max;
  for (const auto& c : cands)
    source_max[c.source] = std::max(source_max[c.source], std::abs(c.retrieval_score));
  std::vector<FeatureRow> rows(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    const CandidateIn& c = cands[i];
    FeatureRow& row = rows[i];
    row.item_id = c.item_id;
    const double scale = source_max[c.source];
    row.f[kRetrievalScore] = scale > 0 ? c.retrieval_score / scale : 0.0;
    row.f[kSourceMf] = c.source == "mf";
    row.f[kSourceItem2Item] = c.source == "item2item";
    row.f[kSourceTrending] = c.source == "trending";
    row.f[kRetrievalPosition] = c.position;
    row.f[kPopularity] = std::log1p(in.popularity[i]);
    row.f[kUserActivity] = std::log1p(in.history_len);
    const ItemMeta& m = in.items[i];
    if (user_cat_total > 0 && !m.categories.empty()) {
      double overlap = 0;
      for (const auto& cat : m.categories) {
        auto it = user_cats.find(cat);
        if (it != user_cats.end()) overlap += it->second / user_cat_total;
      }
      row.f[kCategoryOverlap] = std::min(1.0, overlap);
    }
    if (m.created_at_ms > 0)
      row.f[kItemAgeDays] = std::max(0.0, (in.now_ms - m.created_at_ms) / 86'400'000.0);
  }
  return rows;
}

}  // namespace recstack::ranking
