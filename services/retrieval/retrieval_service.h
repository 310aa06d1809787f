#pragma once

// recstack.v1.RetrievalService: admission (the concurrency limit), then
// common/retrieval/handler.h's proto-in, proto-out call; status mapping.

#include "common/overload/limiter.h"
#include "common/retrieval/handler.h"
#include "recstack/v1/retrieval.grpc.pb.h"

namespace recstack::retrieval {

class RetrievalServiceImpl final : public v1::RetrievalService::Service {
 public:
  // `limiter` (may be null) bounds the requests in flight.
  RetrievalServiceImpl(RetrievalHandler& handler, overload::ConcurrencyLimiter* limiter = nullptr);
  grpc::Status Retrieve(grpc::ServerContext*, const v1::RetrieveRequest*,
                        v1::RetrieveResponse*) override;
  grpc::Status SimilarItems(grpc::ServerContext*, const v1::SimilarItemsRequest*,
                            v1::SimilarItemsResponse*) override;
  grpc::Status SampleUsers(grpc::ServerContext*, const v1::SampleUsersRequest*,
                           v1::SampleUsersResponse*) override;

 private:
  RetrievalHandler& handler_;
  overload::ConcurrencyLimiter* limiter_;
};

}  // namespace recstack::retrieval
