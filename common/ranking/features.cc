#include "common/ranking/features.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "common/status/status.h"

namespace recstack::ranking {
namespace {

thread_local int tls_round_trips = 0;

}  // namespace

FeatureAssembler::FeatureAssembler(FeatureSource& source, const Clock& clock,
                                   FeatureOptions options)
    : source_(source), clock_(clock), options_(options),
      items_(options.item_cache_size, options.item_cache_ttl, options.cache_ttl_jitter),
      popularity_(options.item_cache_size,
                  options.popularity_in_background
                      ? std::max(options.popularity_max_age, options.popularity_ttl)
                      : options.popularity_ttl,
                  options.cache_ttl_jitter) {}

int FeatureAssembler::last_round_trips() { return tls_round_trips; }

void FeatureAssembler::ForgetItems(std::span<const std::string_view> ids) {
  // Counted first: a read that began before the erase and ends after it
  // sees the count move and does not put back what it read.
  item_changes_.fetch_add(1);
  for (std::string_view id : ids) items_.Erase(id);
}

void FeatureAssembler::ForgetAllItems() {
  item_changes_.fetch_add(1);
  items_.Clear();
}

absl::StatusOr<std::vector<FeatureRow>> FeatureAssembler::Assemble(
    std::string_view user, const std::vector<CandidateIn>& cands, std::vector<SharedMeta>* metas,
    const KnownHistory* history) {
  tls_round_trips = 0;
  // Taken before any read: if it moves before the reads are cached, an
  // item changed meanwhile and the reads may be older than the change.
  const uint64_t changes_before = item_changes_.load();
  // After the Put, checked again: a change between the check and the Put
  // would otherwise leave the older read cached.
  auto cache_meta = [&](std::string_view id, const SharedMeta& m) {
    if (item_changes_.load() != changes_before) return;
    items_.Put(id, m);
    if (item_changes_.load() != changes_before) items_.Erase(id);
  };
  // Candidates' metadata: the cache first, the misses in the same read.
  std::vector<SharedMeta> meta(cands.size());
  std::vector<std::string_view> meta_missing;
  for (size_t i = 0; i < cands.size(); ++i) {
    if (auto hit = items_.Get(cands[i].item_id)) {
      meta[i] = *std::move(hit);
    } else {
      meta_missing.push_back(cands[i].item_id);
    }
  }
  // Trending counts: the cached ones, and the misses asked (one ZMSCORE per
  // event partition for those only).
  // With a refresher, a count past its ttl is served and queued for it.
  const int64_t now = clock_.NowMs();
  const int64_t fresh_after = now - options_.popularity_ttl.count();
  std::vector<double> pop(cands.size(), 0.0);
  std::vector<std::string> ids;
  std::vector<size_t> pop_missing;
  std::vector<std::string_view> stale;
  ids.reserve(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    if (auto cached = popularity_.Get(cands[i].item_id)) {
      if (cached->read_ms >= fresh_after) {
        pop[i] = cached->value;
        continue;
      }
      if (options_.popularity_in_background) {
        pop[i] = cached->value;
        stale.push_back(cands[i].item_id);
        continue;
      }
    }
    pop_missing.push_back(i);
    ids.push_back(cands[i].item_id);
  }
  if (!stale.empty()) {
    std::lock_guard<std::mutex> lock(stale_mu_);
    for (std::string_view id : stale) {
      if (stale_.size() >= options_.popularity_queue_limit) break;
      stale_.emplace(id);
    }
  }
  // The history handed on, when it holds what the features use. Its recent
  // items are known before the read, so their metadata the cache lacks
  // comes in the same round trip as the candidates'.
  const size_t recent_items = static_cast<size_t>(std::max(options_.recent_items, 0));
  const bool history_known =
      history != nullptr && (history->items.size() >= recent_items ||
                             static_cast<int64_t>(history->items.size()) >= history->length);
  std::vector<std::string> recent;
  std::vector<SharedMeta> recent_meta;
  const size_t cand_missing = meta_missing.size();
  auto look_up_recent = [&](std::vector<std::string_view>& missing) {
    recent_meta.assign(recent.size(), nullptr);
    for (size_t i = 0; i < recent.size(); ++i) {
      if (auto hit = items_.Get(recent[i])) {
        recent_meta[i] = *std::move(hit);
      } else {
        missing.push_back(recent[i]);
      }
    }
  };
  auto keep_recent = [&](std::vector<ItemMeta>& read, size_t first) {
    for (size_t i = 0, j = first; i < recent.size(); ++i) {
      if (recent_meta[i] != nullptr) continue;
      recent_meta[i] = std::make_shared<const ItemMeta>(std::move(read[j++]));
      cache_meta(recent[i], recent_meta[i]);
    }
  };
  if (history_known) {
    const size_t n = std::min(recent_items, history->items.size());
    recent.assign(history->items.begin(), history->items.begin() + n);
    look_up_recent(meta_missing);
  }
  // One round trip: the user's history size and recent items (unless
  // known), the trending counts the cache lacks, the metadata the cache
  // lacks; none when there is nothing to read.
  FeatureReads reads;
  if (!history_known || !ids.empty() || !meta_missing.empty()) {
    RECSTACK_ASSIGN_OR_RETURN(reads, source_.Read(user, history_known ? 0 : options_.recent_items,
                                                  ids, meta_missing, now));
    tls_round_trips++;
    if (reads.popularity.size() != ids.size() || reads.items.size() != meta_missing.size()) {
      return absl::InternalError("feature source answered a different number of items");
    }
  }
  if (history_known) reads.history_len = static_cast<double>(history->length);
  for (size_t j = 0; j < pop_missing.size(); ++j) {
    pop[pop_missing[j]] = reads.popularity[j];
    popularity_.Put(ids[j], Count{reads.popularity[j], now});
  }
  for (size_t i = 0, j = 0; i < cands.size(); ++i) {
    if (meta[i] != nullptr) continue;
    meta[i] = std::make_shared<const ItemMeta>(std::move(reads.items[j++]));
    cache_meta(cands[i].item_id, meta[i]);
  }
  if (history_known) {
    keep_recent(reads.items, cand_missing);
  } else {
    // The recent items came with the read: their categories are cached,
    // or one more (smaller) trip.
    recent = std::move(reads.recent);
    std::vector<std::string_view> recent_missing;
    look_up_recent(recent_missing);
    if (!recent_missing.empty()) {
      RECSTACK_ASSIGN_OR_RETURN(std::vector<ItemMeta> more, source_.ReadItems(recent_missing));
      tls_round_trips++;
      if (more.size() != recent_missing.size()) {
        return absl::InternalError("feature source answered a different number of items");
      }
      keep_recent(more, 0);
    }
  }
  SharedFeatureInputs in;
  in.now_ms = now;
  in.history_len = reads.history_len;
  in.popularity = std::move(pop);
  in.items = std::move(meta);
  in.recent = std::move(recent_meta);
  std::vector<FeatureRow> rows = ComputeFeatures(cands, in);
  if (metas != nullptr) *metas = std::move(in.items);
  return rows;
}

absl::StatusOr<size_t> FeatureAssembler::RefreshPopularity() {
  constexpr size_t kBatch = 1000;  // a ZMSCORE of 1,000 keeps Redis busy ~0.2 ms
  size_t done = 0, queued = 0;
  {
    std::lock_guard<std::mutex> lock(stale_mu_);
    queued = stale_.size();
  }
  // What was queued when the call began: requests queueing more meanwhile
  // wait for the next call, so a call always ends.
  while (done < queued) {
    std::vector<std::string> ids;
    {
      std::lock_guard<std::mutex> lock(stale_mu_);
      while (!stale_.empty() && ids.size() < std::min(kBatch, queued - done)) {
        auto it = stale_.begin();
        ids.push_back(std::move(stale_.extract(it).value()));
      }
    }
    if (ids.empty()) break;
    const int64_t now = clock_.NowMs();
    absl::StatusOr<FeatureReads> reads = source_.Read("", 0, ids, {}, now);
    if (reads.ok() && reads->popularity.size() != ids.size()) {
      reads = absl::InternalError("feature source answered a different number of items");
    }
    if (!reads.ok()) {
      std::lock_guard<std::mutex> lock(stale_mu_);
      for (auto& id : ids) {
        if (stale_.size() >= options_.popularity_queue_limit) break;
        stale_.insert(std::move(id));
      }
      return reads.status();
    }
    for (size_t j = 0; j < ids.size(); ++j)
      popularity_.Put(ids[j], Count{reads->popularity[j], now});
    done += ids.size();
  }
  return done;
}

std::vector<FeatureRow> ComputeFeatures(const std::vector<CandidateIn>& cands,
                                        const FeatureInputs& in) {
  // Shared without copying: the pointers do not own (the caller's inputs
  // outlive the call).
  SharedFeatureInputs shared;
  shared.now_ms = in.now_ms;
  shared.history_len = in.history_len;
  shared.popularity = in.popularity;
  auto view = [](const ItemMeta& m) { return SharedMeta(SharedMeta(), &m); };
  for (const ItemMeta& m : in.recent) shared.recent.push_back(view(m));
  for (const ItemMeta& m : in.items) shared.items.push_back(view(m));
  return ComputeFeatures(cands, shared);
}

std::vector<FeatureRow> ComputeFeatures(const std::vector<CandidateIn>& cands,
                                        const SharedFeatureInputs& in) {
  std::unordered_map<std::string, double> user_cats;
  double user_cat_total = 0;
  for (const SharedMeta& m : in.recent) {
    for (const auto& c : m->categories) {
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
    const ItemMeta& m = *in.items[i];
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
