#include "services/gateway/gateway.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/events/event.h"
#include "common/events/ids.h"
#include "common/log/log.h"
#include "common/overload/call_scope.h"
#include "common/rank/features.h"
#include "common/stats/readout_proto.h"
#include "common/status/status.h"

namespace recstack::gateway {
namespace {

using Clock = std::chrono::system_clock;

int64_t Micros(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t)
      .count();
}

// From `start` to `t`, for the debug view's start offsets.
int64_t MicrosBetween(std::chrono::steady_clock::time_point start,
                      std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t - start).count();
}

// Stage deadline: now + budget, never past the request's deadline.
Clock::time_point StageDeadline(std::chrono::milliseconds budget, Clock::time_point deadline) {
  return std::min(Clock::now() + budget, deadline);
}

// A downstream answer that means "saturated": admit less.
bool IsOverload(const absl::Status& st) {
  return st.code() == absl::StatusCode::kResourceExhausted ||
         st.code() == absl::StatusCode::kDeadlineExceeded;
}

// How a stage ended, for the debug view: "OK" or "<code number>: <message>".
std::string StageStatus(const absl::Status& st) {
  return st.ok() ? "OK" : absl::StrCat(static_cast<int>(st.code()), ": ", st.message());
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
  degraded_ranker = &degraded.Add({{"reason", "ranker"}});
  explored = &prometheus::BuildCounter()
                  .Name("recstack_gateway_explored_total")
                  .Help("Recommend answers shown in a random order (--explore-rate)")
                  .Register(registry)
                  .Add({});
  fallback_refresh_failed =
      &prometheus::BuildCounter()
           .Name("recstack_gateway_fallback_refresh_failures_total")
           .Help("Background refreshes of the in-memory trending fallback that failed")
           .Register(registry)
           .Add({});
  auto& stage = prometheus::BuildHistogram()
                    .Name("recstack_gateway_stage_latency_seconds")
                    .Help("Time of each Recommend stage")
                    .Register(registry);
  const char* stages[3] = {"retrieval", "ranking", "metadata"};
  for (int s = 0; s < 3; ++s)
    stage_latency[s] = &stage.Add({{"stage", stages[s]}}, metrics::LatencyBuckets());
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

Gateway::Gateway(std::unique_ptr<RetrievalBackend> retrieval,
                 std::unique_ptr<RankingBackend> ranking,
                 std::unique_ptr<IngestionBackend> ingestion,
                 std::unique_ptr<TrainingBackend> training, GatewayOptions options,
                 GatewayMetrics& metrics, overload::ConcurrencyLimiter* limiter)
    : retrieval_(std::move(retrieval)), ranking_(std::move(ranking)),
      ingestion_(std::move(ingestion)), training_(std::move(training)), options_(options),
      metrics_(metrics), limiter_(limiter),
      trending_(
          [this]() -> absl::StatusOr<std::vector<v1::ScoredItem>> {
            v1::GetTrendingRequest req;
            req.set_k(options_.fallback_items);
            auto resp = ingestion_->GetTrending(req, Clock::now() + std::chrono::seconds(2));
            if (!resp.ok()) {
              metrics_.fallback_refresh_failed->Increment();
              return resp.status();
            }
            if (resp->items_size() == 0)
              return absl::UnavailableError("ingestion has no trending items yet");
            return std::vector<v1::ScoredItem>(resp->items().begin(), resp->items().end());
          },
          options.fallback_refresh),
      items_(options.item_cache_size, options.item_cache_ttl, options.item_cache_ttl_jitter),
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
    if (it.has_item() && it.item().item_id() == it.item_id()) continue;  // ranking's
    auto hit = items_.Get(it.item_id());
    if (!hit.has_value()) {
      missing.push_back(it.item_id());
    } else if (!hit->item_id().empty()) {
      *it.mutable_item() = *hit;
    }
  }
  if (missing.empty()) return;
  v1::GetItemsRequest ireq;
  for (const auto& id : missing) ireq.add_item_ids(id);
  auto iresp = ingestion_->GetItems(ireq, StageDeadline(options_.metadata_budget, deadline));
  if (!iresp.ok()) return;  // best effort
  std::map<std::string, const v1::Item*> meta;
  for (const auto& m : iresp->items()) meta[m.item_id()] = &m;
  // Unknown ids are cached as empty items so they are not asked again.
  for (const auto& id : missing) {
    auto m = meta.find(id);
    items_.Put(id, m != meta.end() ? *m->second : v1::Item());
  }
  for (auto& it : *resp.mutable_items()) {
    if (it.has_item() && it.item().item_id() == it.item_id()) continue;
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
  RECSTACK_RETURN_IF_ERROR(ids::ValidateId("user_id", req.user_id()));
  const int k = req.k() == 0 ? 10 : req.k();
  if (k < 1 || k > 1000)
    return absl::InvalidArgumentError(absl::StrCat("k must be 1-1000, got ", req.k()));
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
    overload::ConcurrencyLimiter::Verdict why;
    permit = limiter_->TryAcquire(deadline, &why);
    if (!permit.has_value() && why == overload::ConcurrencyLimiter::Verdict::kDeadlinePassed) {
      // The caller has given up: no answer, not even the fallback, reaches
      // it, and a backlog of such requests drains only if each costs nothing.
      return absl::DeadlineExceededError(
          "gateway: the deadline passed before the request was served");
    }
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
  // Admitted, the request is in flight until its answer has been sent
  // (common/overload/call_scope.h): a caller slow to read it keeps the
  // gateway from taking on more full work.
  absl::Cleanup release_after_send = [&permit] {
    if (permit.has_value()) overload::ReleaseAfterSend(*std::move(permit));
  };

  std::string ranker_version;
  std::vector<double> propensity;
  bool explored = false;
  // Retrieval.
  v1::RetrieveResponse cands;
  absl::Status rst;
  {
    auto t = std::chrono::steady_clock::now();
    v1::RetrieveRequest rreq;
    rreq.set_user_id(req.user_id());
    rreq.set_k(std::clamp(5 * k, options_.min_candidates, options_.max_candidates));
    rreq.set_history_items(options_.history_items);
    auto r = retrieval_->Retrieve(rreq, StageDeadline(options_.retrieval_budget, deadline));
    rst = r.status();
    if (r.ok()) cands = *std::move(r);
    const int64_t us = Micros(t);
    metrics_.stage_latency[0]->Observe(us / 1e6);
    if (req.debug()) {
      auto* st = resp.add_stages();
      st->set_stage("retrieval");
      st->set_start_us(MicrosBetween(start, t));
      st->set_duration_us(us);
      st->set_status(StageStatus(rst));
      *st->mutable_items() = cands.candidates();
      *st->mutable_sources() = cands.sources();
    }
  }
  if (!rst.ok()) {
    if (rst.code() == absl::StatusCode::kInvalidArgument) return rst;
    if (permit.has_value() && IsOverload(rst))
      permit->set_dropped();  // downstream is saturated: admit less
    // Fallback: the trending list in memory (no remote call).
    metrics_.degraded_retrieval->Increment();
    resp.set_degraded(true);
    resp.set_degraded_reason(
        absl::StrCat("retrieval failed (", rst.message(), "): trending items"));
    if (!ServeFallback(k, resp)) {
      return absl::UnavailableError(
          absl::StrCat("retrieval failed (", rst.message(),
                       ") and there is no trending list to fall back on yet"));
    }
    if (req.debug()) {
      auto* st = resp.add_stages();
      st->set_stage("fallback");
      st->set_start_us(Micros(start));
      st->set_duration_us(0);
      st->set_status("OK: in-memory trending list");
    }
  } else {
    resp.set_model_version(cands.model_version());
    // Ranking.
    auto t = std::chrono::steady_clock::now();
    v1::RankRequest rk;
    rk.set_user_id(req.user_id());
    rk.set_k(k);
    rk.set_ranker(req.ranker());
    rk.set_debug(req.debug());
    // The candidates move into the request and back after the call (no copy
    // of 50 items with their explanations).
    rk.mutable_candidates()->Swap(cands.mutable_candidates());
    // Retrieval's read of the history: ranking need not read it again.
    if (cands.has_history()) rk.mutable_history()->Swap(cands.mutable_history());
    rk.mutable_context()->insert(req.context().begin(), req.context().end());
    v1::RankResponse ranked;
    auto kr = ranking_->Rank(rk, StageDeadline(options_.ranking_budget, deadline));
    rk.mutable_candidates()->Swap(cands.mutable_candidates());
    absl::Status kst = kr.status();
    if (kr.ok()) ranked = *std::move(kr);
    const int64_t us = Micros(t);
    metrics_.stage_latency[1]->Observe(us / 1e6);
    if (req.debug()) {
      auto* st = resp.add_stages();
      st->set_stage("ranking");
      st->set_start_us(MicrosBetween(start, t));
      st->set_duration_us(us);
      st->set_status(StageStatus(kst));
      *st->mutable_items() = ranked.items();
      *st->mutable_features() = ranked.features();
    }
    if (kst.ok()) {
      resp.mutable_items()->Swap(ranked.mutable_items());  // (debug copied them above)
      // Keep retrieval's explanations (reasons) next to ranking's contributions.
      absl::flat_hash_map<absl::string_view, const v1::ScoredItem*> by_id;
      by_id.reserve(cands.candidates_size());
      for (const auto& c : cands.candidates()) by_id.emplace(c.item_id(), &c);
      for (auto& item : *resp.mutable_items()) {
        auto it = by_id.find(item.item_id());
        if (it != by_id.end())
          item.mutable_explanation()->set_reason(it->second->explanation().reason());
      }
      resp.set_ranker(ranked.ranker());
      resp.set_experiment(ranked.experiment());
      resp.set_variant(ranked.variant());
      ranker_version = ranked.ranker_version();
      if (ranked.degraded()) {
        // The ranker asked for could not serve; another one did.
        metrics_.degraded_ranker->Increment();
        resp.set_degraded(true);
        resp.set_degraded_reason(ranked.degraded_reason());
      }
      explored = Explore(resp, &propensity);
    } else if (kst.code() == absl::StatusCode::kInvalidArgument) {
      return kst;  // e.g. an unknown ranker: the caller's mistake
    } else {
      if (permit.has_value() && IsOverload(kst)) permit->set_dropped();
      metrics_.degraded_ranking->Increment();
      resp.set_degraded(true);
      resp.set_degraded_reason(
          absl::StrCat("ranking failed (", kst.message(), "): retrieval order"));
      for (int i = 0; i < std::min(k, cands.candidates_size()); ++i)
        *resp.add_items() = cands.candidates(i);
      resp.set_ranker("retrieval-order");
    }
  }
  // Titles, best effort: ranked items carry them (ranking reads them with
  // the features); for the others the cache, then one small call for its
  // misses.
  if (resp.items_size() > 0) {
    auto t = std::chrono::steady_clock::now();
    AddItemMetadata(resp, deadline);
    const int64_t us = Micros(t);
    metrics_.stage_latency[2]->Observe(us / 1e6);
    if (req.debug()) {
      auto* st = resp.add_stages();
      st->set_stage("metadata");
      st->set_start_us(MicrosBetween(start, t));
      st->set_duration_us(us);
      st->set_status("OK");  // best effort: a miss leaves the title empty
    }
  }
  resp.set_total_us(Micros(start));
  if (options_.log_impressions) EnqueueImpressions(resp, ranker_version, propensity, explored);
  // The feature vectors are for the log, not for clients.
  for (auto& item : *resp.mutable_items()) item.clear_features();
  return resp;
}

bool Gateway::Explore(v1::RecommendResponse& resp, std::vector<double>* propensity) {
  const int n = resp.items_size();
  const double eps = options_.explore_rate;
  propensity->assign(n, 1.0);
  if (eps <= 0 || n < 2) return false;
  bool shuffle = false;
  std::vector<int> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  {
    std::lock_guard<std::mutex> lock(rng_mu_);
    shuffle = std::uniform_real_distribution<double>(0, 1)(rng_) < eps;
    if (shuffle) std::shuffle(perm.begin(), perm.end(), rng_);
  }
  // perm[p] = the ranked position of the item shown at p.
  for (int p = 0; p < n; ++p) (*propensity)[p] = (perm[p] == p ? 1 - eps : 0) + eps / n;
  if (shuffle) {
    google::protobuf::RepeatedPtrField<v1::ScoredItem> ranked;
    ranked.Swap(resp.mutable_items());
    for (int p = 0; p < n; ++p) *resp.add_items() = std::move(*ranked.Mutable(perm[p]));
    metrics_.explored->Increment();
  }
  return shuffle;
}

void Gateway::EnqueueImpressions(const v1::RecommendResponse& resp,
                                 const std::string& ranker_version,
                                 const std::vector<double>& propensity, bool explored) {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count();
  // One IMPRESSION per answer (per events::kMaxShown items of a longer
  // one): the request's fields once, then every item shown with its
  // position, propensity and the vector the ranker scored it with. Built
  // before taking the queue's lock.
  std::vector<v1::Event> answer;
  bool with_features = false;
  for (int first = 0; first < resp.items_size(); first += events::kMaxShown) {
    const int last = std::min<int>(resp.items_size(), first + events::kMaxShown);
    v1::Event& e = answer.emplace_back();
    e.set_event_id(absl::StrCat("imp-", resp.request_id(), "-", first));
    e.set_user_id(resp.user_id());
    e.set_item_id(resp.items(first).item_id());
    e.set_type(v1::IMPRESSION);
    e.set_timestamp_ms(now);
    for (int pos = first; pos < last; ++pos) {
      const v1::ScoredItem& it = resp.items(pos);
      v1::ShownItem* s = e.add_shown();
      s->set_item_id(it.item_id());
      s->set_position(pos);
      if (it.features_size() > 0) {
        // What the ranker saw, exactly: training learns from this, never
        // from features recomputed later (training/serving skew).
        with_features = true;
        *s->mutable_features() = it.features();
        s->set_propensity(pos < static_cast<int>(propensity.size()) ? propensity[pos] : 1.0);
      }
    }
  }
  for (v1::Event& e : answer) {
    auto& ctx = *e.mutable_context();
    ctx["request_id"] = resp.request_id();
    ctx["variant"] = resp.variant();
    ctx["model_version"] = resp.model_version();
    ctx["ranker"] = resp.ranker();
    if (!resp.experiment().empty()) ctx["experiment"] = resp.experiment();
    if (!ranker_version.empty()) ctx["ranker_version"] = ranker_version;
    if (with_features) {
      ctx["feature_schema"] = std::to_string(ranking::kFeatureSchema);
      ctx["explored"] = explored ? "1" : "0";
    }
  }
  std::lock_guard<std::mutex> lock(q_mu_);
  const bool was_empty = queue_.empty();
  if (was_empty) oldest_queued_ = std::chrono::steady_clock::now();
  for (v1::Event& e : answer) {
    const size_t n = static_cast<size_t>(e.shown_size());
    if (queued_items_ + n > options_.impression_queue) {
      metrics_.impressions_dropped->Increment(static_cast<double>(n));
      continue;
    }
    queued_items_ += n;
    queue_.push_back(std::move(e));
  }
  // The sender starts its linger on the first event and wakes early only
  // for a full batch.
  if (was_empty || queued_items_ >= static_cast<size_t>(options_.impression_batch))
    q_cv_.notify_one();
}

void Gateway::SendImpressions() {
  std::unique_lock<std::mutex> lock(q_mu_);
  while (true) {
    q_cv_.wait_for(lock, std::chrono::milliseconds(200),
                   [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    const size_t full = static_cast<size_t>(options_.impression_batch);
    q_cv_.wait_until(lock, oldest_queued_ + options_.impression_linger,
                     [this, full] { return stopping_ || queued_items_ >= full; });
    // Whole answers, up to `full` items (at least one answer).
    v1::IngestEventsRequest batch;
    size_t items = 0;
    while (!queue_.empty() && (batch.events_size() == 0 ||
                               items + static_cast<size_t>(queue_.front().shown_size()) <= full)) {
      items += static_cast<size_t>(queue_.front().shown_size());
      *batch.add_events() = std::move(queue_.front());
      queue_.pop_front();
    }
    queued_items_ -= items;
    // What is left waits from now.
    if (!queue_.empty()) oldest_queued_ = std::chrono::steady_clock::now();
    lock.unlock();
    auto r = ingestion_->IngestEvents(batch, Clock::now() + std::chrono::seconds(2));
    if (r.ok()) {
      metrics_.impressions_sent->Increment(static_cast<double>(items));
    } else {
      metrics_.impressions_failed->Increment(static_cast<double>(items));
    }
    lock.lock();
  }
}

absl::StatusOr<v1::IngestEventsResponse> Gateway::IngestEvents(const v1::IngestEventsRequest& req,
                                                               Clock::time_point deadline) {
  return ingestion_->IngestEvents(req, std::min(deadline, Clock::now() + std::chrono::seconds(10)));
}

absl::StatusOr<v1::SimilarItemsResponse> Gateway::SimilarItems(const v1::SimilarItemsRequest& req,
                                                               Clock::time_point deadline) {
  return retrieval_->SimilarItems(req,
                                  std::min(deadline, Clock::now() + options_.retrieval_budget));
}

absl::StatusOr<v1::SampleUsersResponse> Gateway::SampleUsers(int n, Clock::time_point deadline) {
  if (n < 1 || n > 100) return absl::InvalidArgumentError(absl::StrCat("n must be 1-100, got ", n));
  v1::SampleUsersRequest req;
  req.set_n(n);
  return retrieval_->SampleUsers(req, StageDeadline(options_.lookup_budget, deadline));
}

absl::StatusOr<v1::ListModelsResponse> Gateway::Models(Clock::time_point deadline) {
  if (training_ == nullptr) {
    return absl::UnavailableError(
        "no --training-addr: the gateway has no training service to list models from");
  }
  return training_->ListModels(v1::ListModelsRequest(),
                               StageDeadline(options_.lookup_budget, deadline));
}

absl::StatusOr<std::vector<v1::Experiment>> Gateway::Experiments(Clock::time_point deadline) {
  if (training_ == nullptr) {
    return absl::UnavailableError(
        "no --training-addr: the gateway has no training service to read experiments from");
  }
  RECSTACK_ASSIGN_OR_RETURN(
      v1::ListRankersResponse resp,
      ranking_->ListRankers(v1::ListRankersRequest(),
                            StageDeadline(options_.experiments_budget, deadline)));
  return std::vector<v1::Experiment>(resp.experiments().begin(), resp.experiments().end());
}

absl::StatusOr<stats::Readout> Gateway::ExperimentReport(const std::string& name,
                                                         Clock::time_point deadline) {
  if (training_ == nullptr) {
    return absl::UnavailableError(
        "no --training-addr: the gateway has no training service to read experiments from");
  }
  if (name.empty() || name.size() > 256)
    return absl::InvalidArgumentError("experiment name must be 1-256 bytes");
  v1::ExperimentReportRequest req;
  req.set_experiment(name);
  RECSTACK_ASSIGN_OR_RETURN(
      v1::ExperimentReportResponse resp,
      training_->ExperimentReport(req, StageDeadline(options_.report_budget, deadline)));
  return stats::ReadoutFromProto(resp);
}

}  // namespace recstack::gateway
