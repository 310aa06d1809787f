#include "services/gateway/gateway.h"

#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/status.h"

namespace recstack::gateway {
namespace {

using Clock = std::chrono::system_clock;

int64_t Micros(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count();
}

absl::Status ValidateUser(const std::string& user) {
  if (user.empty()) return absl::InvalidArgumentError("user_id is empty");
  if (user.size() > 128) return absl::InvalidArgumentError(absl::StrCat("user_id is ", user.size(), " bytes (at most 128)"));
  for (unsigned char c : user) {
    if (c < 0x20 || c == 0x7f) return absl::InvalidArgumentError("user_id has a control character");
  }
  return absl::OkStatus();
}

// Stage deadline: now + budget, never past the request's deadline.
void StageDeadline(grpc::ClientContext& ctx, std::chrono::milliseconds budget, Clock::time_point deadline) {
  ctx.set_deadline(std::min(Clock::now() + budget, deadline));
}

}  // namespace

GatewayMetrics::GatewayMetrics(prometheus::Registry& registry)
    : rpc(registry, "gateway", {"Recommend", "IngestEvents", "SimilarItems"}) {
  auto& degraded = prometheus::BuildCounter()
                       .Name("recstack_gateway_degraded_total")
                       .Help("Recommend answers served by a fallback, by reason")
                       .Register(registry);
  degraded_retrieval = &degraded.Add({{"reason", "retrieval"}});
  degraded_ranking = &degraded.Add({{"reason", "ranking"}});
  degraded_overload = &degraded.Add({{"reason", "overload"}});
  fallback_refresh_failed = &prometheus::BuildCounter()
                                 .Name("recstack_gateway_fallback_refresh_failures_total")
                                 .Help("Background refreshes of the in-memory trending fallback that failed")
                                 .Register(registry)
                                 .Add({});
  auto& stage = prometheus::BuildHistogram()
                    .Name("recstack_gateway_stage_latency_seconds")
                    .Help("Time of each Recommend stage")
                    .Register(registry);
  const char* stages[3] = {"retrieval", "ranking", "metadata"};
  for (int s = 0; s < 3; ++s) stage_latency[s] = &stage.Add({{"stage", stages[s]}}, metrics::LatencyBuckets());
  auto& imp = prometheus::BuildCounter()
                  .Name("recstack_gateway_impressions_total")
                  .Help("Impression events by outcome (sent, dropped, failed)")
                  .Register(registry);
  impressions_sent = &imp.Add({{"outcome", "sent"}});
  impressions_dropped = &imp.Add({{"outcome", "dropped"}});
  impressions_failed = &imp.Add({{"outcome", "failed"}});
  http_family = &prometheus::BuildCounter()
                     .Name("recstack_gateway_http_requests_total")
                     .Help("HTTP requests by status class")
                     .Register(registry);
  for (const char* c : {"2xx", "4xx", "5xx"}) http[c] = &http_family->Add({{"status", c}});
}

Gateway::Gateway(std::unique_ptr<v1::RetrievalService::StubInterface> retrieval,
                 std::unique_ptr<v1::RankingService::StubInterface> ranking,
                 std::unique_ptr<v1::IngestionService::StubInterface> ingestion, GatewayOptions options,
                 GatewayMetrics& metrics, overload::ConcurrencyLimiter* limiter)
    : retrieval_(std::move(retrieval)), ranking_(std::move(ranking)), ingestion_(std::move(ingestion)),
      options_(options), metrics_(metrics), limiter_(limiter),
      trending_(
          [this]() -> absl::StatusOr<std::vector<v1::ScoredItem>> {
            grpc::ClientContext ctx;
            ctx.set_deadline(Clock::now() + std::chrono::seconds(2));
            v1::GetTrendingRequest req;
            req.set_k(options_.fallback_items);
            v1::GetTrendingResponse resp;
            absl::Status st = FromGrpc(ingestion_->GetTrending(&ctx, req, &resp));
            if (!st.ok()) {
              metrics_.fallback_refresh_failed->Increment();
              return st;
            }
            if (resp.items_size() == 0) return absl::UnavailableError("ingestion has no trending items yet");
            return std::vector<v1::ScoredItem>(resp.items().begin(), resp.items().end());
          },
          options.fallback_refresh),
      items_(options.item_cache_size, options.item_cache_ttl),
      rng_(std::random_device{}()) {
  if (options_.log_impressions) sender_ = std::thread([this] { SendImpressions(); });
}

absl::Status Gateway::StartFallbackRefresh() { return trending_.Start(); }

bool Gateway::ServeFallback(int k, v1::RecommendResponse& resp) const {
  auto list = trending_.Get();
  if (list == nullptr || list->empty()) return false;
  int rank = 0;
  for (const auto& s : *list) {
    if (rank >= k) break;
    v1::ScoredItem* item = resp.add_items();
    *item = s;
    item->set_source("fallback");
    item->set_retrieval_rank(rank++);
    item->mutable_explanation()->set_reason("popular right now (fallback)");
  }
  resp.set_ranker("fallback");
  return true;
}

void Gateway::AddItemMetadata(v1::RecommendResponse& resp, Clock::time_point deadline) {
  std::vector<std::string> missing;
  for (auto& it : *resp.mutable_items()) {
    auto hit = items_.Get(it.item_id());
    if (!hit.has_value()) {
      missing.push_back(it.item_id());
    } else if (!hit->item_id().empty()) {
      *it.mutable_item() = *hit;
    }
  }
  if (missing.empty()) return;
  grpc::ClientContext ctx;
  StageDeadline(ctx, options_.metadata_budget, deadline);
  v1::GetItemsRequest ireq;
  for (const auto& id : missing) ireq.add_item_ids(id);
  v1::GetItemsResponse iresp;
  if (!ingestion_->GetItems(&ctx, ireq, &iresp).ok()) return;  // best effort
  std::map<std::string, const v1::Item*> meta;
  for (const auto& m : iresp.items()) meta[m.item_id()] = &m;
  // Unknown ids are cached as empty items so they are not asked again.
  for (const auto& id : missing) {
    auto m = meta.find(id);
    items_.Put(id, m != meta.end() ? *m->second : v1::Item());
  }
  for (auto& it : *resp.mutable_items()) {
    auto m = meta.find(it.item_id());
    if (m != meta.end()) *it.mutable_item() = *m->second;
  }
}

Gateway::~Gateway() {
  trending_.Stop();
  {
    std::lock_guard<std::mutex> lock(q_mu_);
    stopping_ = true;
  }
  q_cv_.notify_all();
  if (sender_.joinable()) sender_.join();
}

absl::StatusOr<v1::RecommendResponse> Gateway::Recommend(const v1::RecommendRequest& req,
                                                         Clock::time_point deadline) {
  const auto start = std::chrono::steady_clock::now();
  RECSTACK_RETURN_IF_ERROR(ValidateUser(req.user_id()));
  const int k = req.k() == 0 ? 10 : req.k();
  if (k < 1 || k > 1000) return absl::InvalidArgumentError(absl::StrCat("k must be 1-1000, got ", req.k()));
  deadline = std::min(deadline, Clock::now() + options_.total_budget);
  v1::RecommendResponse resp;
  {
    std::lock_guard<std::mutex> lock(rng_mu_);
    char id[20];
    std::snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(rng_()));
    resp.set_request_id(id);
  }
  resp.set_user_id(req.user_id());

  // Past the gateway's own limit the cheapest honest answer is the
  // in-memory fallback: no remote call, degraded, said so.
  std::optional<overload::ConcurrencyLimiter::Permit> permit;
  if (limiter_ != nullptr) {
    permit = limiter_->TryAcquire(deadline);
    if (!permit.has_value()) {
      metrics_.degraded_overload->Increment();
      resp.set_degraded(true);
      resp.set_degraded_reason("gateway overloaded: trending items (fallback)");
      if (!ServeFallback(k, resp)) {
        return absl::ResourceExhaustedError("gateway overloaded and no fallback list yet");
      }
      resp.set_total_us(Micros(start));
      return resp;
    }
  }

  // Retrieval.
  v1::RetrieveResponse cands;
  grpc::Status rst;
  {
    auto t = std::chrono::steady_clock::now();
    grpc::ClientContext ctx;
    StageDeadline(ctx, options_.retrieval_budget, deadline);
    v1::RetrieveRequest rreq;
    rreq.set_user_id(req.user_id());
    rreq.set_k(std::min(options_.max_candidates, std::max(5 * k, 100)));
    rst = retrieval_->Retrieve(&ctx, rreq, &cands);
    const int64_t us = Micros(t);
    metrics_.stage_latency[0]->Observe(us / 1e6);
    if (req.debug()) {
      auto* st = resp.add_stages();
      st->set_stage("retrieval");
      st->set_duration_us(us);
      st->set_status(rst.ok() ? "OK" : absl::StrCat(rst.error_code(), ": ", rst.error_message()));
      *st->mutable_items() = cands.candidates();
      *st->mutable_sources() = cands.sources();
    }
  }
  if (!rst.ok()) {
    if (rst.error_code() == grpc::StatusCode::INVALID_ARGUMENT) return FromGrpc(rst);
    if (permit.has_value() && (rst.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                               rst.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
      permit->set_dropped();  // downstream is saturated: admit less
    }
    // Fallback: the trending list in memory (no remote call).
    metrics_.degraded_retrieval->Increment();
    resp.set_degraded(true);
    resp.set_degraded_reason(absl::StrCat("retrieval failed (", rst.error_message(), "): trending items"));
    if (!ServeFallback(k, resp)) {
      return absl::UnavailableError(absl::StrCat("retrieval failed (", rst.error_message(),
                                                 ") and there is no trending list to fall back on yet"));
    }
    if (req.debug()) {
      auto* st = resp.add_stages();
      st->set_stage("fallback");
      st->set_duration_us(0);
      st->set_status("OK: in-memory trending list");
    }
  } else {
    resp.set_model_version(cands.model_version());
    // Ranking.
    auto t = std::chrono::steady_clock::now();
    grpc::ClientContext ctx;
    StageDeadline(ctx, options_.ranking_budget, deadline);
    v1::RankRequest rk;
    rk.set_user_id(req.user_id());
    rk.set_k(k);
    rk.set_ranker(req.ranker());
    rk.set_debug(req.debug());
    *rk.mutable_candidates() = cands.candidates();
    rk.mutable_context()->insert(req.context().begin(), req.context().end());
    v1::RankResponse ranked;
    grpc::Status kst = ranking_->Rank(&ctx, rk, &ranked);
    const int64_t us = Micros(t);
    metrics_.stage_latency[1]->Observe(us / 1e6);
    if (req.debug()) {
      auto* st = resp.add_stages();
      st->set_stage("ranking");
      st->set_duration_us(us);
      st->set_status(kst.ok() ? "OK" : absl::StrCat(kst.error_code(), ": ", kst.error_message()));
      *st->mutable_items() = ranked.items();
      *st->mutable_features() = ranked.features();
    }
    if (kst.ok()) {
      *resp.mutable_items() = ranked.items();
      // Keep retrieval's explanations (reasons) next to ranking's contributions.
      std::map<std::string, const v1::ScoredItem*> by_id;
      for (const auto& c : cands.candidates()) by_id[c.item_id()] = &c;
      for (auto& item : *resp.mutable_items()) {
        auto it = by_id.find(item.item_id());
        if (it != by_id.end()) item.mutable_explanation()->set_reason(it->second->explanation().reason());
      }
      resp.set_ranker(ranked.ranker());
      resp.set_experiment(ranked.experiment());
      resp.set_variant(ranked.variant());
    } else if (kst.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      return FromGrpc(kst);  // e.g. an unknown ranker: the caller's mistake
    } else {
      if (permit.has_value() && (kst.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                                 kst.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
        permit->set_dropped();
      }
      metrics_.degraded_ranking->Increment();
      resp.set_degraded(true);
      resp.set_degraded_reason(absl::StrCat("ranking failed (", kst.error_message(), "): retrieval order"));
      for (int i = 0; i < std::min(k, cands.candidates_size()); ++i) *resp.add_items() = cands.candidates(i);
      resp.set_ranker("retrieval-order");
    }
  }
  // Titles, best effort: the cache, then one small call for its misses.
  if (resp.items_size() > 0) {
    auto t = std::chrono::steady_clock::now();
    AddItemMetadata(resp, deadline);
    metrics_.stage_latency[2]->Observe(Micros(t) / 1e6);
  }
  resp.set_total_us(Micros(start));
  if (options_.log_impressions) EnqueueImpressions(resp);
  return resp;
}

void Gateway::EnqueueImpressions(const v1::RecommendResponse& resp) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(q_mu_);
  int pos = 0;
  for (const auto& it : resp.items()) {
    if (queue_.size() >= options_.impression_queue) {
      metrics_.impressions_dropped->Increment(resp.items_size() - pos);
      break;
    }
    v1::Event e;
    e.set_event_id(absl::StrCat("imp-", resp.request_id(), "-", pos));
    e.set_user_id(resp.user_id());
    e.set_item_id(it.item_id());
    e.set_type(v1::IMPRESSION);
    e.set_timestamp_ms(now);
    auto& ctx = *e.mutable_context();
    ctx["request_id"] = resp.request_id();
    ctx["position"] = std::to_string(pos);
    ctx["variant"] = resp.variant();
    ctx["model_version"] = resp.model_version();
    queue_.push_back(std::move(e));
    ++pos;
  }
  q_cv_.notify_one();
}

void Gateway::SendImpressions() {
  std::unique_lock<std::mutex> lock(q_mu_);
  while (true) {
    q_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    v1::IngestEventsRequest batch;
    while (!queue_.empty() && batch.events_size() < options_.impression_batch) {
      *batch.add_events() = std::move(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    grpc::ClientContext ctx;
    ctx.set_deadline(Clock::now() + std::chrono::seconds(2));
    v1::IngestEventsResponse r;
    grpc::Status st = ingestion_->IngestEvents(&ctx, batch, &r);
    if (st.ok()) {
      metrics_.impressions_sent->Increment(batch.events_size());
    } else {
      metrics_.impressions_failed->Increment(batch.events_size());
    }
    lock.lock();
  }
}

absl::StatusOr<v1::IngestEventsResponse> Gateway::IngestEvents(const v1::IngestEventsRequest& req,
                                                               Clock::time_point deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::min(deadline, Clock::now() + std::chrono::seconds(10)));
  v1::IngestEventsResponse resp;
  RECSTACK_RETURN_IF_ERROR(FromGrpc(ingestion_->IngestEvents(&ctx, req, &resp)));
  return resp;
}

absl::StatusOr<v1::SimilarItemsResponse> Gateway::SimilarItems(const v1::SimilarItemsRequest& req,
                                                               Clock::time_point deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::min(deadline, Clock::now() + options_.retrieval_budget));
  v1::SimilarItemsResponse resp;
  RECSTACK_RETURN_IF_ERROR(FromGrpc(retrieval_->SimilarItems(&ctx, req, &resp)));
  return resp;
}

grpc::Status GatewayServiceImpl::Recommend(grpc::ServerContext* ctx, const v1::RecommendRequest* req,
                                           v1::RecommendResponse* resp) {
  metrics::RpcTimer timer(gateway_.metrics().rpc, "Recommend");
  auto r = gateway_.Recommend(*req, ctx->deadline());
  timer.set_code(r.status().code());
  if (!r.ok()) return ToGrpc(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status GatewayServiceImpl::IngestEvents(grpc::ServerContext* ctx, const v1::IngestEventsRequest* req,
                                              v1::IngestEventsResponse* resp) {
  metrics::RpcTimer timer(gateway_.metrics().rpc, "IngestEvents");
  auto r = gateway_.IngestEvents(*req, ctx->deadline());
  timer.set_code(r.status().code());
  if (!r.ok()) return ToGrpc(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status GatewayServiceImpl::SimilarItems(grpc::ServerContext* ctx, const v1::SimilarItemsRequest* req,
                                              v1::SimilarItemsResponse* resp) {
  metrics::RpcTimer timer(gateway_.metrics().rpc, "SimilarItems");
  auto r = gateway_.SimilarItems(*req, ctx->deadline());
  timer.set_code(r.status().code());
  if (!r.ok()) return ToGrpc(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace recstack::gateway
