#pragma once

// What the gateway core asks of the other services, as small interfaces
// with no gRPC in them: the gRPC implementations are in gateway_service.h,
// and the core's unit tests use fakes. Every call takes the caller's
// absolute deadline and returns an absl status with gRPC's codes.

#include <chrono>

#include "absl/status/statusor.h"
#include "recstack/v1/ingestion.pb.h"
#include "recstack/v1/ranking.pb.h"
#include "recstack/v1/retrieval.pb.h"
#include "recstack/v1/training.pb.h"

namespace recstack::gateway {

using Deadline = std::chrono::system_clock::time_point;

class RetrievalBackend {
 public:
  virtual ~RetrievalBackend() = default;
  virtual absl::StatusOr<v1::RetrieveResponse> Retrieve(const v1::RetrieveRequest& req,
                                                        Deadline deadline) = 0;
  virtual absl::StatusOr<v1::SimilarItemsResponse> SimilarItems(const v1::SimilarItemsRequest& req,
                                                                Deadline deadline) = 0;
  // Users the served factor model knows (the journey page opens on one).
  virtual absl::StatusOr<v1::SampleUsersResponse> SampleUsers(const v1::SampleUsersRequest& req,
                                                              Deadline deadline) = 0;
};

class RankingBackend {
 public:
  virtual ~RankingBackend() = default;
  virtual absl::StatusOr<v1::RankResponse> Rank(const v1::RankRequest& req, Deadline deadline) = 0;
  // The rankers and the experiments ranking runs (names, variants, traffic).
  virtual absl::StatusOr<v1::ListRankersResponse> ListRankers(const v1::ListRankersRequest& req,
                                                              Deadline deadline) = 0;
};

class IngestionBackend {
 public:
  virtual ~IngestionBackend() = default;
  virtual absl::StatusOr<v1::IngestEventsResponse> IngestEvents(const v1::IngestEventsRequest& req,
                                                                Deadline deadline) = 0;
  virtual absl::StatusOr<v1::GetItemsResponse> GetItems(const v1::GetItemsRequest& req,
                                                        Deadline deadline) = 0;
  virtual absl::StatusOr<v1::GetTrendingResponse> GetTrending(const v1::GetTrendingRequest& req,
                                                              Deadline deadline) = 0;
};

// The experiment readouts (computed by the training service from the event
// log) behind the /experiments page, and the model versions behind /models.
class TrainingBackend {
 public:
  virtual ~TrainingBackend() = default;
  virtual absl::StatusOr<v1::ExperimentReportResponse> ExperimentReport(
      const v1::ExperimentReportRequest& req, Deadline deadline) = 0;
  // Every kept version, newest first, each saying whether its slot serves
  // it.
  virtual absl::StatusOr<v1::ListModelsResponse> ListModels(const v1::ListModelsRequest& req,
                                                            Deadline deadline) = 0;
};

}  // namespace recstack::gateway
