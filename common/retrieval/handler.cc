#include "common/retrieval/handler.h"

#include <charconv>

#include "absl/strings/str_cat.h"

namespace recstack::retrieval {
namespace {

void ToProto(const Candidate& c, int rank, v1::ScoredItem* p) {
  p->set_item_id(c.item_id);
  p->set_score(c.score);
  p->set_source(c.source);
  p->set_retrieval_score(c.score);
  p->set_retrieval_rank(rank);
  if (!c.because_item_id.empty()) {
    p->mutable_explanation()->set_because_item_id(c.because_item_id);
    p->mutable_explanation()->set_reason(
        c.source == "ease"
            ? absl::StrCat("because you interacted with ", c.because_item_id, " (EASE item-item)")
            : absl::StrCat("because you interacted with ", c.because_item_id));
  } else if (c.source == "mf") {
    p->mutable_explanation()->set_reason("matches your taste (matrix factorization)");
  } else if (c.source == "trending") {
    p->mutable_explanation()->set_reason("popular right now");
  }
}

}  // namespace

RetrievalMetrics::RetrievalMetrics(prometheus::Registry& registry)
    : rpc(registry, "retrieval", {"Retrieve", "SimilarItems", "SampleUsers"}) {
  auto& lat = prometheus::BuildHistogram()
                  .Name("recstack_retrieval_source_latency_seconds")
                  .Help("Time each candidate source took")
                  .Register(registry);
  auto& cand = prometheus::BuildHistogram()
                   .Name("recstack_retrieval_source_candidates")
                   .Help("Candidates each source returned")
                   .Register(registry);
  auto& err = prometheus::BuildCounter()
                  .Name("recstack_retrieval_source_errors_total")
                  .Help("Sources skipped because they failed")
                  .Register(registry);
  for (int s = 0; s < kNumSources; ++s) {
    const std::string name(SourceName(static_cast<Source>(s)));
    source_latency[s] = &lat.Add({{"source", name}}, metrics::LatencyBuckets());
    source_candidates[s] = &cand.Add({{"source", name}}, prometheus::Histogram::BucketBoundaries{
                                                             0, 1, 5, 10, 50, 100, 500, 1000});
    source_errors[s] = &err.Add({{"source", name}});
  }
  auto& cache = prometheus::BuildGauge()
                    .Name("recstack_retrieval_user_cache")
                    .Help("User-vector cache lookups by result (hits, misses), since start")
                    .Register(registry);
  cache_hits = &cache.Add({{"result", "hit"}});
  cache_misses = &cache.Add({{"result", "miss"}});
  auto& history = prometheus::BuildGauge()
                      .Name("recstack_retrieval_history_cache")
                      .Help(
                          "History cache lookups by result (hits, misses) since start; live is 1 "
                          "while it serves (subscribed to rs:users:updates)")
                      .Register(registry);
  history_cache_hits = &history.Add({{"result", "hit"}});
  history_cache_misses = &history.Add({{"result", "miss"}});
  history_cache_live = &history.Add({{"result", "live"}});
  model_version = &prometheus::BuildGauge()
                       .Name("recstack_retrieval_model_version")
                       .Help("Served model version number")
                       .Register(registry)
                       .Add({});
  model_items = &prometheus::BuildGauge()
                     .Name("recstack_retrieval_model_items")
                     .Help("Items in the served model")
                     .Register(registry)
                     .Add({});
  index_build_seconds = &prometheus::BuildGauge()
                             .Name("recstack_retrieval_index_build_seconds")
                             .Help("Time to build the served index")
                             .Register(registry)
                             .Add({});
  hnsw_recall = &prometheus::BuildGauge()
                     .Name("recstack_retrieval_hnsw_recall_at_10")
                     .Help("HNSW recall@10 against exact at build (0 = exact index)")
                     .Register(registry)
                     .Add({});
}

void RetrievalMetrics::OnModel(const ServingModel& m) {
  int64_t n = 0;
  if (m.meta.version.size() > 1)
    std::from_chars(m.meta.version.data() + 1, m.meta.version.data() + m.meta.version.size(), n);
  model_version->Set(static_cast<double>(n));
  model_items->Set(static_cast<double>(m.item_ids.size()));
  index_build_seconds->Set(m.index_build_seconds);
  hnsw_recall->Set(m.hnsw_recall);
}

RetrievalHandler::RetrievalHandler(Retriever& retriever, RetrievalMetrics& metrics)
    : retriever_(retriever), metrics_(metrics) {}

absl::Status RetrievalHandler::Retrieve(const v1::RetrieveRequest& req,
                                        v1::RetrieveResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "Retrieve");
  RetrieveQuery q;
  q.user_id = req.user_id();
  q.k = req.k();
  q.sources.assign(req.sources().begin(), req.sources().end());
  q.exclude.assign(req.exclude_item_ids().begin(), req.exclude_item_ids().end());
  q.recent.assign(req.recent_item_ids().begin(), req.recent_item_ids().end());
  q.history_items = req.history_items();
  auto res = retriever_.Retrieve(q);
  timer.set_code(res.status().code());
  metrics_.cache_hits->Set(static_cast<double>(retriever_.cache().hits()));
  metrics_.cache_misses->Set(static_cast<double>(retriever_.cache().misses()));
  if (history_cache_ != nullptr) {
    metrics_.history_cache_hits->Set(static_cast<double>(history_cache_->hits()));
    metrics_.history_cache_misses->Set(static_cast<double>(history_cache_->misses()));
    metrics_.history_cache_live->Set(history_cache_->live() ? 1 : 0);
  }
  if (!res.ok()) return res.status();
  int rank = 0;
  for (const auto& c : res->candidates) ToProto(c, rank++, resp->add_candidates());
  resp->set_model_version(res->model_version);
  resp->set_user_vector(res->user_vector);
  if (res->history.has_value()) {
    v1::UserHistory* h = resp->mutable_history();
    h->set_length(res->history->length);
    for (auto& item : res->history->items) h->add_item_ids(std::move(item));
  }
  for (const auto& s : res->sources) {
    auto* p = resp->add_sources();
    p->set_source(s.source);
    p->set_candidates(s.candidates);
    p->set_kept(s.kept);
    p->set_start_us(s.start_us);
    p->set_latency_us(s.latency_us);
    p->set_error(s.error);
    if (auto src = ParseSource(s.source); src.ok()) {
      const int i = static_cast<int>(*src);
      metrics_.source_latency[i]->Observe(s.latency_us / 1e6);
      metrics_.source_candidates[i]->Observe(s.candidates);
      if (!s.error.empty()) metrics_.source_errors[i]->Increment();
    }
  }
  return absl::OkStatus();
}

absl::Status RetrievalHandler::SimilarItems(const v1::SimilarItemsRequest& req,
                                            v1::SimilarItemsResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "SimilarItems");
  auto res = retriever_.Similar(req.item_id(), req.k() == 0 ? 10 : req.k(), req.source());
  timer.set_code(res.status().code());
  if (!res.ok()) return res.status();
  int rank = 0;
  for (const auto& c : res->candidates) ToProto(c, rank++, resp->add_items());
  resp->set_model_version(res->model_version);
  return absl::OkStatus();
}

absl::Status RetrievalHandler::SampleUsers(const v1::SampleUsersRequest& req,
                                           v1::SampleUsersResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "SampleUsers");
  auto res = retriever_.SampleUsers(req.n() == 0 ? 1 : req.n());
  timer.set_code(res.status().code());
  if (!res.ok()) return res.status();
  for (const auto& u : res->user_ids) resp->add_user_ids(u);
  resp->set_model_version(res->model_version);
  return absl::OkStatus();
}

}  // namespace recstack::retrieval
