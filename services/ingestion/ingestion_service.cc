#include "services/ingestion/ingestion_service.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/grpc/admission.h"
#include "common/grpc/status.h"
#include "common/redis/item_proto.h"
#include "common/status/status.h"

namespace recstack::ingestion {
namespace {

constexpr const char* kOutcomes[3] = {"accepted", "duplicate", "rejected"};

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

events::Event FromProto(const v1::Event& p) {
  events::Event e;
  e.event_id = p.event_id();
  e.user_id = p.user_id();
  e.item_id = p.item_id();
  e.type = static_cast<events::EventType>(p.type());
  e.value = p.value();
  e.timestamp_ms = p.timestamp_ms();
  e.context.insert(p.context().begin(), p.context().end());
  e.shown.reserve(p.shown_size());
  for (const v1::ShownItem& s : p.shown()) {
    e.shown.push_back({s.item_id(), s.position(), s.propensity(),
                       std::vector<float>(s.features().begin(), s.features().end())});
  }
  // An answer's impression names its first item (ValidateEvent checks).
  if (e.item_id.empty() && !e.shown.empty()) e.item_id = e.shown.front().item_id;
  return e;
}

// Records `status` on the call's timer and answers it.
grpc::Status Reject(metrics::RpcTimer& timer, const absl::Status& status) {
  timer.set_code(status.code());
  return ToGrpc(status);
}

}  // namespace

IngestionMetrics::IngestionMetrics(prometheus::Registry& registry)
    : rpc(registry, "ingestion",
          {"IngestEvents", "StreamEvents", "UpsertItems", "GetItems", "GetUserHistory",
           "GetTrending"}) {
  auto& ev = prometheus::BuildCounter()
                 .Name("recstack_ingestion_events_total")
                 .Help("Events by type and outcome (accepted, duplicate, rejected)")
                 .Register(registry);
  for (int t = 0; t < events::kNumEventTypes; ++t) {
    for (int o = 0; o < 3; ++o) {
      events[t][o] =
          &ev.Add({{"type", std::string(events::EventTypeName(static_cast<events::EventType>(t)))},
                   {"outcome", kOutcomes[o]}});
    }
  }
  batch_size =
      &prometheus::BuildHistogram()
           .Name("recstack_ingestion_batch_size")
           .Help("Events per IngestEvents batch")
           .Register(registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 100, 1000, 5000, 10000});
  redis_latency = &prometheus::BuildHistogram()
                       .Name("recstack_ingestion_redis_seconds")
                       .Help("Time to write one batch to Redis")
                       .Register(registry)
                       .Add({}, metrics::LatencyBuckets());
  redis_errors = &prometheus::BuildCounter()
                      .Name("recstack_ingestion_redis_errors_total")
                      .Help("Batches that failed in Redis")
                      .Register(registry)
                      .Add({});
}

IngestionServiceImpl::IngestionServiceImpl(EventStore& store, const Clock& clock,
                                           events::ValidationLimits limits,
                                           prometheus::Registry& registry,
                                           overload::ConcurrencyLimiter* limiter)
    : store_(store), clock_(clock), limits_(limits), metrics_(registry), limiter_(limiter),
      rng_(std::random_device{}()) {}

absl::Status IngestionServiceImpl::Ingest(const v1::IngestEventsRequest& req, int64_t index_base,
                                          int* accepted, int* duplicates,
                                          std::vector<v1::RejectedEvent>* rejected) {
  RECSTACK_RETURN_IF_ERROR(CheckBatchSize(req.events_size()));
  metrics_.batch_size->Observe(req.events_size());
  const int64_t now = clock_.NowMs();
  std::vector<events::Event> valid;
  valid.reserve(req.events_size());
  for (const v1::Event& p : req.events()) valid.push_back(FromProto(p));
  const std::vector<Rejection> rejections = CheckBatch(valid, now, limits_, [this] {
    std::lock_guard<std::mutex> lock(rng_mu_);
    return rng_();
  });
  for (const Rejection& r : rejections) {
    v1::RejectedEvent p;
    p.set_index(static_cast<int32_t>(index_base + r.index));
    p.set_event_id(r.event_id);
    p.set_reason(r.reason);
    rejected->push_back(std::move(p));
    const int t = static_cast<int>(r.type);
    metrics_.events[t > 0 && t < events::kNumEventTypes ? t : 0][2]->Increment();
  }
  if (valid.empty()) return absl::OkStatus();
  const auto t = std::chrono::steady_clock::now();
  auto outcomes = store_.Write(valid);
  metrics_.redis_latency->Observe(Since(t));
  if (!outcomes.ok()) {
    metrics_.redis_errors->Increment();
    return absl::UnavailableError(
        absl::StrCat("events not stored, retry the batch: ", outcomes.status().message()));
  }
  for (size_t i = 0; i < valid.size(); ++i) {
    const bool dup = (*outcomes)[i] == Outcome::kDuplicate;
    (dup ? *duplicates : *accepted)++;
    metrics_.events[static_cast<int>(valid[i].type)][dup ? 1 : 0]->Increment();
  }
  return absl::OkStatus();
}

grpc::Status IngestionServiceImpl::IngestEvents(grpc::ServerContext* ctx,
                                                const v1::IngestEventsRequest* req,
                                                v1::IngestEventsResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "IngestEvents");
  auto admission = grpcutil::Admit(limiter_, *ctx);
  if (!grpcutil::Admitted(admission)) {
    timer.set_code(FromGrpc(admission.status).code());
    return admission.status;
  }
  int accepted = 0, duplicates = 0;
  std::vector<v1::RejectedEvent> rejected;
  absl::Status st = Ingest(*req, 0, &accepted, &duplicates, &rejected);
  if (st.ok() && accepted + duplicates == 0 && !rejected.empty()) {
    st = absl::InvalidArgumentError(absl::StrCat("every event was rejected; first: event ",
                                                 rejected[0].index(), ": ", rejected[0].reason()));
  }
  timer.set_code(st.code());
  if (!st.ok()) return ToGrpc(st);
  resp->set_accepted(accepted);
  resp->set_duplicates(duplicates);
  for (auto& r : rejected) *resp->add_rejected() = std::move(r);
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::StreamEvents(grpc::ServerContext*,
                                                grpc::ServerReader<v1::IngestEventsRequest>* reader,
                                                v1::StreamEventsResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "StreamEvents");
  constexpr int kFirstRejections = 20;
  v1::IngestEventsRequest req;
  int64_t index_base = 0;
  while (reader->Read(&req)) {
    int accepted = 0, duplicates = 0;
    std::vector<v1::RejectedEvent> rejected;
    absl::Status st = Ingest(req, index_base, &accepted, &duplicates, &rejected);
    if (!st.ok()) {
      // What was acknowledged so far is in Redis; the caller retries from here.
      timer.set_code(st.code());
      return ToGrpc(Annotate(st, absl::StrCat("after ", resp->accepted() + resp->duplicates(),
                                              " events were stored")));
    }
    resp->set_accepted(resp->accepted() + accepted);
    resp->set_duplicates(resp->duplicates() + duplicates);
    resp->set_rejected(resp->rejected() + static_cast<int64_t>(rejected.size()));
    for (auto& r : rejected) {
      if (resp->first_rejections_size() < kFirstRejections)
        *resp->add_first_rejections() = std::move(r);
    }
    index_base += req.events_size();
  }
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::UpsertItems(grpc::ServerContext*,
                                               const v1::UpsertItemsRequest* req,
                                               v1::UpsertItemsResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "UpsertItems");
  if (req->items_size() == 0 || req->items_size() > kMaxItemsPerUpsert) {
    return Reject(
        timer, absl::InvalidArgumentError(absl::StrCat("UpsertItems takes 1-", kMaxItemsPerUpsert,
                                                       " items, got ", req->items_size())));
  }
  std::vector<ItemRecord> items;
  items.reserve(req->items_size());
  for (int i = 0; i < req->items_size(); ++i) {
    const v1::Item& p = req->items(i);
    ItemRecord it{p.item_id(),
                  p.title(),
                  {p.categories().begin(), p.categories().end()},
                  p.created_at_ms(),
                  {p.attributes().begin(), p.attributes().end()}};
    absl::Status st = ValidateItem(it);
    if (!st.ok()) {
      auto* r = resp->add_rejected();
      r->set_index(i);
      r->set_reason(std::string(st.message()));
      continue;
    }
    items.push_back(std::move(it));
  }
  absl::Status st = store_.UpsertItems(items);
  timer.set_code(st.code());
  if (!st.ok()) return ToGrpc(st);
  resp->set_upserted(static_cast<int32_t>(items.size()));
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::GetItems(grpc::ServerContext* ctx,
                                            const v1::GetItemsRequest* req,
                                            v1::GetItemsResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "GetItems");
  auto admission = grpcutil::Admit(limiter_, *ctx);
  if (!grpcutil::Admitted(admission)) {
    timer.set_code(FromGrpc(admission.status).code());
    return admission.status;
  }
  if (req->item_ids_size() > 1000) {
    return Reject(timer, absl::InvalidArgumentError("GetItems takes at most 1000 ids"));
  }
  auto items = store_.GetItems({req->item_ids().begin(), req->item_ids().end()});
  timer.set_code(items.status().code());
  if (!items.ok()) return ToGrpc(items.status());
  for (const auto& it : *items) redis::FillItemProto(it.item_id, it, resp->add_items());
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::GetUserHistory(grpc::ServerContext* ctx,
                                                  const v1::GetUserHistoryRequest* req,
                                                  v1::GetUserHistoryResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "GetUserHistory");
  auto admission = grpcutil::Admit(limiter_, *ctx);
  if (!grpcutil::Admitted(admission)) {
    timer.set_code(FromGrpc(admission.status).code());
    return admission.status;
  }
  absl::Status st = ids::ValidateId("user_id", req->user_id());
  if (st.ok() && (req->limit() < 0 || req->limit() > 1000)) {
    st = absl::InvalidArgumentError(absl::StrCat("limit must be 0-1000, got ", req->limit()));
  }
  if (!st.ok()) {
    timer.set_code(st.code());
    return ToGrpc(st);
  }
  auto h = store_.History(req->user_id(), req->limit() == 0 ? 100 : req->limit());
  timer.set_code(h.status().code());
  if (!h.ok()) return ToGrpc(h.status());
  for (const auto& e : *h) {
    auto* p = resp->add_entries();
    p->set_item_id(e.item_id);
    p->set_timestamp_ms(e.timestamp_ms);
  }
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::GetTrending(grpc::ServerContext* ctx,
                                               const v1::GetTrendingRequest* req,
                                               v1::GetTrendingResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "GetTrending");
  auto admission = grpcutil::Admit(limiter_, *ctx);
  if (!grpcutil::Admitted(admission)) {
    timer.set_code(FromGrpc(admission.status).code());
    return admission.status;
  }
  if (req->k() < 0 || req->k() > 1000 || req->window_hours() < 0 || req->window_hours() > 720) {
    return Reject(timer, absl::InvalidArgumentError("k must be 0-1000 and window_hours 0-720"));
  }
  // window_hours 0: the decayed counts (O(k)); otherwise an exact window.
  auto t = store_.Trending(req->k() == 0 ? 20 : req->k(), req->window_hours());
  timer.set_code(t.status().code());
  if (!t.ok()) return ToGrpc(t.status());
  for (const auto& s : *t) {
    auto* p = resp->add_items();
    p->set_item_id(s.item_id);
    p->set_score(s.score);
    p->set_source("trending");
  }
  return grpc::Status::OK;
}

}  // namespace recstack::ingestion
