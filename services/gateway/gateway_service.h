#pragma once

// The gateway's gRPC adapter, both ways: GatewayServiceImpl serves the core
// (proto in, proto out, status codes and RPC metrics), and the Grpc*Backend
// classes implement backends.h with stubs of the other services (the
// deadline of each call is the one the core chose).

#include <grpcpp/grpcpp.h>

#include <memory>

#include "recstack/v1/gateway.grpc.pb.h"
#include "recstack/v1/ingestion.grpc.pb.h"
#include "recstack/v1/ranking.grpc.pb.h"
#include "recstack/v1/retrieval.grpc.pb.h"
#include "recstack/v1/training.grpc.pb.h"
#include "services/gateway/api_keys.h"
#include "services/gateway/backends.h"
#include "services/gateway/gateway.h"

namespace recstack::gateway {

class GatewayServiceImpl final : public v1::GatewayService::Service {
 public:
  // With `keys`, every call must carry a known key (metadata x-api-key)
  // within its rate; without, the API is open.
  explicit GatewayServiceImpl(Gateway& gateway, ApiKeys* keys = nullptr)
      : gateway_(gateway), keys_(keys) {}
  grpc::Status Recommend(grpc::ServerContext*, const v1::RecommendRequest*,
                         v1::RecommendResponse*) override;
  grpc::Status IngestEvents(grpc::ServerContext*, const v1::IngestEventsRequest*,
                            v1::IngestEventsResponse*) override;
  grpc::Status SimilarItems(grpc::ServerContext*, const v1::SimilarItemsRequest*,
                            v1::SimilarItemsResponse*) override;

 private:
  Gateway& gateway_;
  ApiKeys* keys_;
};

class GrpcRetrievalBackend final : public RetrievalBackend {
 public:
  explicit GrpcRetrievalBackend(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::RetrievalService::NewStub(std::move(channel))) {}
  absl::StatusOr<v1::RetrieveResponse> Retrieve(const v1::RetrieveRequest& req,
                                                Deadline deadline) override;
  absl::StatusOr<v1::SimilarItemsResponse> SimilarItems(const v1::SimilarItemsRequest& req,
                                                        Deadline deadline) override;
  absl::StatusOr<v1::SampleUsersResponse> SampleUsers(const v1::SampleUsersRequest& req,
                                                      Deadline deadline) override;

 private:
  std::unique_ptr<v1::RetrievalService::Stub> stub_;
};

class GrpcRankingBackend final : public RankingBackend {
 public:
  explicit GrpcRankingBackend(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::RankingService::NewStub(std::move(channel))) {}
  absl::StatusOr<v1::RankResponse> Rank(const v1::RankRequest& req, Deadline deadline) override;
  absl::StatusOr<v1::ListRankersResponse> ListRankers(const v1::ListRankersRequest& req,
                                                      Deadline deadline) override;

 private:
  std::unique_ptr<v1::RankingService::Stub> stub_;
};

class GrpcIngestionBackend final : public IngestionBackend {
 public:
  explicit GrpcIngestionBackend(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::IngestionService::NewStub(std::move(channel))) {}
  absl::StatusOr<v1::IngestEventsResponse> IngestEvents(const v1::IngestEventsRequest& req,
                                                        Deadline deadline) override;
  absl::StatusOr<v1::GetItemsResponse> GetItems(const v1::GetItemsRequest& req,
                                                Deadline deadline) override;
  absl::StatusOr<v1::GetTrendingResponse> GetTrending(const v1::GetTrendingRequest& req,
                                                      Deadline deadline) override;

 private:
  std::unique_ptr<v1::IngestionService::Stub> stub_;
};

class GrpcTrainingBackend final : public TrainingBackend {
 public:
  explicit GrpcTrainingBackend(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::TrainingService::NewStub(std::move(channel))) {}
  absl::StatusOr<v1::ExperimentReportResponse> ExperimentReport(
      const v1::ExperimentReportRequest& req, Deadline deadline) override;
  absl::StatusOr<v1::ListModelsResponse> ListModels(const v1::ListModelsRequest& req,
                                                    Deadline deadline) override;

 private:
  std::unique_ptr<v1::TrainingService::Stub> stub_;
};

}  // namespace recstack::gateway
