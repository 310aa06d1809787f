#pragma once

// Retrieval and ranking in the gateway's own process (--embed
// retrieval,ranking): backends.h's interfaces over common/retrieval's and
// common/ranking's handlers, the same code the two services serve over gRPC,
// without the two network hops per Recommend (docs/serving.md, "Embedded
// retrieval and ranking"). A call whose deadline has already passed is not
// made (DEADLINE_EXCEEDED); one under way runs to its end (the gateway's
// stage budgets then decide), as an in-process call cannot be cancelled.

#include "common/ranking/handler.h"
#include "common/retrieval/handler.h"
#include "services/gateway/backends.h"

namespace recstack::gateway {

class LocalRetrievalBackend final : public RetrievalBackend {
 public:
  explicit LocalRetrievalBackend(retrieval::RetrievalHandler& handler) : handler_(handler) {}
  absl::StatusOr<v1::RetrieveResponse> Retrieve(const v1::RetrieveRequest& req,
                                                Deadline deadline) override;
  absl::StatusOr<v1::SimilarItemsResponse> SimilarItems(const v1::SimilarItemsRequest& req,
                                                        Deadline deadline) override;
  absl::StatusOr<v1::SampleUsersResponse> SampleUsers(const v1::SampleUsersRequest& req,
                                                      Deadline deadline) override;

 private:
  retrieval::RetrievalHandler& handler_;
};

class LocalRankingBackend final : public RankingBackend {
 public:
  explicit LocalRankingBackend(ranking::RankingHandler& handler) : handler_(handler) {}
  absl::StatusOr<v1::RankResponse> Rank(const v1::RankRequest& req, Deadline deadline) override;
  absl::StatusOr<v1::ListRankersResponse> ListRankers(const v1::ListRankersRequest& req,
                                                      Deadline deadline) override;

 private:
  ranking::RankingHandler& handler_;
};

}  // namespace recstack::gateway
