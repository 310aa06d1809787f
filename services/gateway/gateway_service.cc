#include "services/gateway/gateway_service.h"

#include <cmath>
#include <string>

#include "common/grpc/status.h"
#include "common/metrics/metrics.h"

namespace recstack::gateway {
namespace {

// One unary call with the core's deadline, as an absl::StatusOr.
template <typename Resp, typename Call>
absl::StatusOr<Resp> Unary(Deadline deadline, Call call) {
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  Resp resp;
  grpc::Status st = call(&ctx, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp;
}

// The caller's key, checked before anything else: a refused call reaches
// no backend. Over its rate: RESOURCE_EXHAUSTED with trailing metadata
// retry-after (whole seconds, as HTTP's header) and retry-after-ms.
absl::Status Authorize(ApiKeys* keys, grpc::ServerContext* ctx) {
  if (keys == nullptr) return absl::OkStatus();
  const auto& md = ctx->client_metadata();
  auto it = md.find("x-api-key");
  const std::string_view key =
      it == md.end() ? std::string_view() : std::string_view(it->second.data(), it->second.size());
  ApiKeys::Decision d = keys->Check(key);
  if (d.status.code() == absl::StatusCode::kResourceExhausted) {
    ctx->AddTrailingMetadata("retry-after", std::to_string(d.RetryAfterHeader()));
    ctx->AddTrailingMetadata(
        "retry-after-ms", std::to_string(static_cast<int64_t>(std::ceil(d.retry_after_s * 1e3))));
  }
  return d.status;
}

// Serves one core call: the key, metrics, status conversion, the response.
template <typename Resp, typename Call>
grpc::Status Serve(metrics::RpcMetrics& rpc, const char* method, ApiKeys* keys,
                   grpc::ServerContext* ctx, Resp* out, Call call) {
  metrics::RpcTimer timer(rpc, method);
  if (absl::Status auth = Authorize(keys, ctx); !auth.ok()) {
    timer.set_code(auth.code());
    return ToGrpc(auth);
  }
  absl::StatusOr<Resp> r = call();
  timer.set_code(r.status().code());
  if (!r.ok()) return ToGrpc(r.status());
  *out = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status GatewayServiceImpl::Recommend(grpc::ServerContext* ctx,
                                           const v1::RecommendRequest* req,
                                           v1::RecommendResponse* resp) {
  return Serve(gateway_.metrics().rpc, "Recommend", keys_, ctx, resp,
               [&] { return gateway_.Recommend(*req, ctx->deadline()); });
}

grpc::Status GatewayServiceImpl::IngestEvents(grpc::ServerContext* ctx,
                                              const v1::IngestEventsRequest* req,
                                              v1::IngestEventsResponse* resp) {
  return Serve(gateway_.metrics().rpc, "IngestEvents", keys_, ctx, resp,
               [&] { return gateway_.IngestEvents(*req, ctx->deadline()); });
}

grpc::Status GatewayServiceImpl::SimilarItems(grpc::ServerContext* ctx,
                                              const v1::SimilarItemsRequest* req,
                                              v1::SimilarItemsResponse* resp) {
  return Serve(gateway_.metrics().rpc, "SimilarItems", keys_, ctx, resp,
               [&] { return gateway_.SimilarItems(*req, ctx->deadline()); });
}

absl::StatusOr<v1::RetrieveResponse> GrpcRetrievalBackend::Retrieve(const v1::RetrieveRequest& req,
                                                                    Deadline deadline) {
  return Unary<v1::RetrieveResponse>(
      deadline,
      [&](grpc::ClientContext* c, v1::RetrieveResponse* r) { return stub_->Retrieve(c, req, r); });
}

absl::StatusOr<v1::SimilarItemsResponse> GrpcRetrievalBackend::SimilarItems(
    const v1::SimilarItemsRequest& req, Deadline deadline) {
  return Unary<v1::SimilarItemsResponse>(deadline,
                                         [&](grpc::ClientContext* c, v1::SimilarItemsResponse* r) {
                                           return stub_->SimilarItems(c, req, r);
                                         });
}

absl::StatusOr<v1::SampleUsersResponse> GrpcRetrievalBackend::SampleUsers(
    const v1::SampleUsersRequest& req, Deadline deadline) {
  return Unary<v1::SampleUsersResponse>(deadline,
                                        [&](grpc::ClientContext* c, v1::SampleUsersResponse* r) {
                                          return stub_->SampleUsers(c, req, r);
                                        });
}

absl::StatusOr<v1::RankResponse> GrpcRankingBackend::Rank(const v1::RankRequest& req,
                                                          Deadline deadline) {
  return Unary<v1::RankResponse>(deadline, [&](grpc::ClientContext* c, v1::RankResponse* r) {
    return stub_->Rank(c, req, r);
  });
}

absl::StatusOr<v1::ListRankersResponse> GrpcRankingBackend::ListRankers(
    const v1::ListRankersRequest& req, Deadline deadline) {
  return Unary<v1::ListRankersResponse>(deadline,
                                        [&](grpc::ClientContext* c, v1::ListRankersResponse* r) {
                                          return stub_->ListRankers(c, req, r);
                                        });
}

absl::StatusOr<v1::IngestEventsResponse> GrpcIngestionBackend::IngestEvents(
    const v1::IngestEventsRequest& req, Deadline deadline) {
  return Unary<v1::IngestEventsResponse>(deadline,
                                         [&](grpc::ClientContext* c, v1::IngestEventsResponse* r) {
                                           return stub_->IngestEvents(c, req, r);
                                         });
}

absl::StatusOr<v1::GetItemsResponse> GrpcIngestionBackend::GetItems(const v1::GetItemsRequest& req,
                                                                    Deadline deadline) {
  return Unary<v1::GetItemsResponse>(
      deadline,
      [&](grpc::ClientContext* c, v1::GetItemsResponse* r) { return stub_->GetItems(c, req, r); });
}

absl::StatusOr<v1::GetTrendingResponse> GrpcIngestionBackend::GetTrending(
    const v1::GetTrendingRequest& req, Deadline deadline) {
  return Unary<v1::GetTrendingResponse>(deadline,
                                        [&](grpc::ClientContext* c, v1::GetTrendingResponse* r) {
                                          return stub_->GetTrending(c, req, r);
                                        });
}

absl::StatusOr<v1::ExperimentReportResponse> GrpcTrainingBackend::ExperimentReport(
    const v1::ExperimentReportRequest& req, Deadline deadline) {
  return Unary<v1::ExperimentReportResponse>(
      deadline, [&](grpc::ClientContext* c, v1::ExperimentReportResponse* r) {
        return stub_->ExperimentReport(c, req, r);
      });
}

absl::StatusOr<v1::ListModelsResponse> GrpcTrainingBackend::ListModels(
    const v1::ListModelsRequest& req, Deadline deadline) {
  return Unary<v1::ListModelsResponse>(deadline,
                                       [&](grpc::ClientContext* c, v1::ListModelsResponse* r) {
                                         return stub_->ListModels(c, req, r);
                                       });
}

}  // namespace recstack::gateway
