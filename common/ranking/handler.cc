#include "common/ranking/handler.h"

#include "absl/strings/str_cat.h"
#include "common/redis/item_proto.h"

namespace recstack::ranking {

RankingMetrics::RankingMetrics(prometheus::Registry& registry,
                               const std::vector<Experiment>& experiments)
    : rpc(registry, "ranking", {"Rank", "ListRankers"}) {
  auto& fam = prometheus::BuildCounter()
                  .Name("recstack_ranking_requests_total")
                  .Help("Rank calls by experiment variant (override: the request named its ranker)")
                  .Register(registry);
  for (const auto& e : experiments) {
    for (const auto& v : e.variants) {
      variant_requests[absl::StrCat(e.name, "/", v.name)] =
          &fam.Add({{"experiment", e.name}, {"variant", v.name}, {"ranker", v.ranker}});
    }
  }
  override_requests =
      &fam.Add({{"experiment", ""}, {"variant", "override"}, {"ranker", "request"}});
  fallbacks = &prometheus::BuildCounter()
                   .Name("recstack_ranking_fallbacks_total")
                   .Help("Rank calls whose learned ranker had no servable model (linear served)")
                   .Register(registry)
                   .Add({});
  candidates =
      &prometheus::BuildHistogram()
           .Name("recstack_ranking_candidates")
           .Help("Candidates per Rank call")
           .Register(registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 50, 100, 200, 500, 1000, 5000});
}

RankingHandler::RankingHandler(RankingEngine& engine, RankingMetrics& metrics)
    : engine_(engine), metrics_(metrics) {}

absl::Status RankingHandler::Rank(const v1::RankRequest& request, v1::RankResponse* resp) {
  const v1::RankRequest* req = &request;
  metrics::RpcTimer timer(metrics_.rpc, "Rank");
  RankQuery q;
  q.user_id = req->user_id();
  q.k = req->k() == 0 ? 10 : req->k();
  q.ranker = req->ranker();
  q.candidates.reserve(req->candidates_size());
  for (int i = 0; i < req->candidates_size(); ++i) {
    const auto& c = req->candidates(i);
    // Retrieval's score and position when set, else this message's.
    q.candidates.push_back({c.item_id(), c.retrieval_score() != 0 ? c.retrieval_score() : c.score(),
                            c.source(), c.retrieval_rank() != 0 ? c.retrieval_rank() : i});
  }
  if (req->has_history()) {
    KnownHistory& h = q.history.emplace();
    h.length = req->history().length();
    h.items.assign(req->history().item_ids().begin(), req->history().item_ids().end());
  }
  metrics_.candidates->Observe(q.candidates.size());
  auto res = engine_.Rank(q);
  timer.set_code(res.status().code());
  if (!res.ok()) return res.status();
  if (res->variant.empty()) {
    metrics_.override_requests->Increment();
  } else if (auto it =
                 metrics_.variant_requests.find(absl::StrCat(res->experiment, "/", res->variant));
             it != metrics_.variant_requests.end()) {
    it->second->Increment();
  }
  for (const auto& item : res->items) {
    v1::ScoredItem* p = resp->add_items();
    p->set_item_id(item.item_id);
    p->set_score(item.score);
    p->set_source(item.source);
    p->set_retrieval_score(item.retrieval_score);
    p->set_retrieval_rank(item.retrieval_position);
    for (const auto& c : item.contributions) {
      auto* fc = p->mutable_explanation()->add_contributions();
      fc->set_feature(std::string(FeatureName(c.feature)));
      fc->set_value(c.value);
      fc->set_contribution(c.contribution);
    }
    // The vector it was scored with, for the gateway's impression log.
    if (item.row >= 0) {
      for (double v : res->features[item.row].f) p->add_features(static_cast<float>(v));
    }
    // Its metadata, from ranking's cache: the gateway shows it as is.
    if (item.row >= 0 && static_cast<size_t>(item.row) < res->metas.size() &&
        res->metas[item.row]->known) {
      redis::FillItemProto(item.item_id, *res->metas[item.row], p->mutable_item());
    }
  }
  resp->set_feature_schema(kFeatureSchema);
  resp->set_degraded(res->degraded);
  resp->set_degraded_reason(res->degraded_reason);
  resp->set_ranker_version(res->ranker_version);
  if (res->degraded) metrics_.fallbacks->Increment();
  resp->set_ranker(res->ranker);
  resp->set_experiment(res->experiment);
  resp->set_variant(res->variant);
  if (req->debug()) {
    for (const auto& row : res->features) {
      v1::FeatureVector* fv = resp->add_features();
      fv->set_item_id(row.item_id);
      for (int f = 0; f < kNumFeatures; ++f)
        (*fv->mutable_features())[std::string(FeatureName(f))] = row.f[f];
    }
  }
  return absl::OkStatus();
}

absl::Status RankingHandler::ListRankers(const v1::ListRankersRequest&,
                                         v1::ListRankersResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "ListRankers");
  for (const auto& r : engine_.registry().List()) {
    auto* p = resp->add_rankers();
    p->set_name(r.name);
    p->set_description(r.description);
  }
  for (const auto& e : engine_.experiments()) {
    auto* pe = resp->add_experiments();
    pe->set_name(e.name);
    pe->set_salt(e.salt);
    for (const auto& v : e.variants) {
      auto* pv = pe->add_variants();
      pv->set_name(v.name);
      pv->set_ranker(v.ranker);
      pv->set_traffic(v.traffic);
      pv->mutable_params()->insert(v.params.begin(), v.params.end());
    }
  }
  resp->set_default_ranker(engine_.experiments().front().variants.front().ranker);
  return absl::OkStatus();
}

}  // namespace recstack::ranking
