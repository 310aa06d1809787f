#include "common/ranking/engine.h"

#include <algorithm>
#include <charconv>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/events/ids.h"
#include "common/status/status.h"

namespace recstack::ranking {

RankingEngine::RankingEngine(FeatureAssembler& features, RankerRegistry registry,
                             std::vector<Experiment> experiments,
                             const model::ItemVectorsHolder* holder, double mmr_lambda)
    : features_(features), registry_(std::move(registry)), experiments_(std::move(experiments)),
      holder_(holder), mmr_lambda_(mmr_lambda) {}

absl::StatusOr<RankResult> RankingEngine::Rank(const RankQuery& q) {
  RECSTACK_RETURN_IF_ERROR(ids::ValidateId("user_id", q.user_id));
  if (q.k <= 0 || q.k > 1000)
    return absl::InvalidArgumentError(absl::StrCat("k must be 1-1000, got ", q.k));
  if (static_cast<int>(q.candidates.size()) > kMaxCandidates) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxCandidates, " candidates, got ", q.candidates.size()));
  }
  if (q.history.has_value()) {
    if (static_cast<int>(q.history->items.size()) > kMaxHistoryItems) {
      return absl::InvalidArgumentError(absl::StrCat(
          "at most ", kMaxHistoryItems, " history items, got ", q.history->items.size()));
    }
    if (q.history->length < static_cast<int64_t>(q.history->items.size())) {
      return absl::InvalidArgumentError(absl::StrCat("history length ", q.history->length,
                                                     " is less than its ", q.history->items.size(),
                                                     " items"));
    }
    for (const auto& item : q.history->items)
      RECSTACK_RETURN_IF_ERROR(ids::ValidateId("history item", item));
  }
  RankResult res;
  RankerParams params;
  std::string spec = q.ranker;
  if (spec.empty()) {
    const Experiment& e = experiments_.front();
    const Variant& v = Assign(e, q.user_id);
    spec = v.ranker;
    params = v.params;
    res.experiment = e.name;
    res.variant = v.name;
  }
  auto [name, mmr] = SplitMmr(spec);
  auto ranker = registry_.Create(name, params);
  if (!ranker.ok() && absl::IsNotFound(ranker.status())) {
    // A learned ranker with no servable model: the hand-set one serves.
    res.degraded = true;
    res.degraded_reason =
        absl::StrCat("ranker ", name, " unavailable (", ranker.status().message(), "): linear");
    ranker = registry_.Create("linear", {});
    spec = mmr ? "linear+mmr" : "linear";
  }
  if (!ranker.ok()) return ranker.status();
  double lambda = mmr_lambda_;
  if (auto it = params.find("mmr_lambda"); it != params.end()) {
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), lambda);
  }
  res.ranker = spec;
  res.ranker_version = (*ranker)->version();
  // Param "candidates": score only the first N in retrieval's order. A
  // learned ranker scores kLearnedCandidates unless told otherwise: it has
  // only seen what earlier rankers showed, and far down the list it
  // extrapolates (docs/rankers.md).
  size_t n = q.candidates.size();
  if (!res.ranker_version.empty()) n = std::min(n, kLearnedCandidates);
  if (auto it = params.find("candidates"); it != params.end()) {
    int limit = 0;
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), limit);
    if (ec != std::errc() || limit < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("ranker param candidates='", it->second, "' must be a count >= 1"));
    }
    n = std::min(q.candidates.size(), static_cast<size_t>(limit));
  }
  if (n == 0) return res;
  std::vector<CandidateIn> kept;
  if (n < q.candidates.size()) kept.assign(q.candidates.begin(), q.candidates.begin() + n);
  const std::vector<CandidateIn>& cands = n < q.candidates.size() ? kept : q.candidates;
  std::vector<SharedMeta> metas;
  auto rows =
      features_.Assemble(q.user_id, cands, &metas, q.history.has_value() ? &*q.history : nullptr);
  if (!rows.ok()) return rows.status();
  std::vector<Scored> scored = (*ranker)->ScoreAll(*rows);
  std::vector<int> order(rows->size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return scored[a].score > scored[b].score; });
  if (mmr) {
    // MMR over the best few hundred, against the served item factors.
    const int pool = std::min<int>(static_cast<int>(order.size()), std::max(q.k * 5, 100));
    std::shared_ptr<const model::ItemVectors> m = holder_ ? holder_->Current() : nullptr;
    std::vector<double> s(pool);
    std::vector<const float*> vecs(pool, nullptr);
    for (int i = 0; i < pool; ++i) {
      s[i] = scored[order[i]].score;
      if (m) vecs[i] = m->Find((*rows)[order[i]].item_id);
    }
    auto picked = MmrRerank(s, vecs, m ? m->meta.factors : 0, lambda, std::min(q.k, pool));
    std::vector<int> reordered;
    for (int p : picked) reordered.push_back(order[p]);
    order = std::move(reordered);
  }
  if (static_cast<int>(order.size()) > q.k) order.resize(q.k);
  res.features = *std::move(rows);
  res.metas = std::move(metas);
  {
    std::vector<const FeatureRow*> served_rows;
    std::vector<Scored*> served;
    for (int i : order) {
      if (!scored[i].contributions.empty()) continue;
      served_rows.push_back(&res.features[i]);
      served.push_back(&scored[i]);
    }
    if (!served.empty()) (*ranker)->Explain(served_rows, served);
  }
  for (int i : order) {
    const CandidateIn& c = cands[i];
    res.items.push_back({c.item_id, c.source, scored[i].score, c.retrieval_score, c.position,
                         std::move(scored[i].contributions), i});
  }
  return res;
}

}  // namespace recstack::ranking
