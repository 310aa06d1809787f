#include "services/ranking/features.h"

#include <charconv>
#include <cmath>
#include <set>

#include "common/redis/popularity.h"
#include "common/status/status.h"

namespace recstack::ranking {
namespace {

constexpr std::string_view kNames[kNumFeatures] = {
    "retrieval_score", "source_mf", "source_item2item", "source_trending", "retrieval_position",
    "popularity", "item_age_days", "user_activity", "category_overlap"};

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

// Popularity is refreshed at most this often (ms): it changes by the hour.
constexpr int64_t kPopularityTtlMs = 5000;

}  // namespace

std::string_view FeatureName(int f) { return f >= 0 && f < kNumFeatures ? kNames[f] : "?"; }

int FeatureIndex(std::string_view name) {
  for (int f = 0; f < kNumFeatures; ++f) {
    if (kNames[f] == name) return f;
  }
  return -1;
}

FeatureAssembler::FeatureAssembler(redis::Pool& pool, redis::Keyspace keys, const Clock& clock,
                                   int trending_window_hours, int recent_items)
    : pool_(pool), keys_(std::move(keys)), clock_(clock), window_hours_(trending_window_hours),
      recent_items_(recent_items) {}

absl::StatusOr<std::shared_ptr<const std::unordered_map<std::string, double>>> FeatureAssembler::Popularity() {
  const int64_t now = clock_.NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (popularity_ && now - popularity_at_ms_ < kPopularityTtlMs) return popularity_;
  }
  RECSTACK_ASSIGN_OR_RETURN(auto sums, redis::SumPopularity(pool_, keys_, now, window_hours_));
  auto map = std::make_shared<std::unordered_map<std::string, double>>(sums.begin(), sums.end());
  std::lock_guard<std::mutex> lock(mu_);
  popularity_ = map;
  popularity_at_ms_ = now;
  return popularity_;
}

absl::StatusOr<std::vector<FeatureRow>> FeatureAssembler::Assemble(std::string_view user,
                                                                   const std::vector<CandidateIn>& cands) {
  RECSTACK_ASSIGN_OR_RETURN(auto pop, Popularity());
  // One round trip: the user's history size and recent items, then every
  // candidate's metadata.
  std::vector<std::vector<std::string>> cmds;
  const std::string hist = keys_.History(user);
  cmds.push_back({"ZCARD", hist});
  cmds.push_back({"ZREVRANGE", hist, "0", std::to_string(recent_items_ - 1)});
  for (const auto& c : cands) cmds.push_back({"HMGET", keys_.Item(c.item_id), "categories", "created_at_ms"});
  RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(cmds));
  const double history_len = static_cast<double>(replies[0].integer);
  // Categories of the recent items: a second, smaller pipeline.
  std::vector<std::vector<std::string>> cat_cmds;
  for (const auto& e : replies[1].elements) cat_cmds.push_back({"HGET", keys_.Item(e.str), "categories"});
  std::unordered_map<std::string, double> user_cats;
  double user_cat_total = 0;
  if (!cat_cmds.empty()) {
    RECSTACK_ASSIGN_OR_RETURN(auto cat_replies, pool_.Pipeline(cat_cmds));
    for (const auto& r : cat_replies) {
      if (r.type != redis::Reply::Type::kString) continue;
      for (const auto& c : SplitCats(r.str)) {
        user_cats[c] += 1;
        user_cat_total += 1;
      }
    }
  }
  const int64_t now = clock_.NowMs();
  // Scores of different sources are on different scales (dot products,
  // cosines, counts): each source's best candidate scores 1.
  std::unordered_map<std::string, double> source_max;
  for (const auto& c : cands) source_max[c.source] = std::max(source_max[c.source], std::abs(c.retrieval_score));
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
    auto p = pop->find(c.item_id);
    row.f[kPopularity] = std::log1p(p == pop->end() ? 0.0 : p->second);
    row.f[kUserActivity] = std::log1p(history_len);
    const redis::Reply& meta = replies[2 + i];
    if (meta.elements.size() == 2) {
      if (meta.elements[0].type == redis::Reply::Type::kString && user_cat_total > 0) {
        auto cats = SplitCats(meta.elements[0].str);
        double overlap = 0;
        for (const auto& cat : cats) {
          auto it = user_cats.find(cat);
          if (it != user_cats.end()) overlap += it->second / user_cat_total;
        }
        row.f[kCategoryOverlap] = std::min(1.0, overlap);
      }
      if (meta.elements[1].type == redis::Reply::Type::kString) {
        int64_t created = 0;
        const std::string& v = meta.elements[1].str;
        std::from_chars(v.data(), v.data() + v.size(), created);
        if (created > 0) row.f[kItemAgeDays] = std::max(0.0, (now - created) / 86'400'000.0);
      }
    }
  }
  return rows;
}

}  // namespace recstack::ranking
