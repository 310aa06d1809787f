#include "services/retrieval/retrieval_service.h"

#include "common/grpc/admission.h"
#include "common/grpc/status.h"

namespace recstack::retrieval {

RetrievalServiceImpl::RetrievalServiceImpl(RetrievalHandler& handler,
                                           overload::ConcurrencyLimiter* limiter)
    : handler_(handler), limiter_(limiter) {}

grpc::Status RetrievalServiceImpl::Retrieve(grpc::ServerContext* ctx,
                                            const v1::RetrieveRequest* req,
                                            v1::RetrieveResponse* resp) {
  auto admission = grpcutil::Admit(limiter_, *ctx);
  if (!grpcutil::Admitted(admission)) {
    handler_.metrics().rpc.Record("Retrieve", FromGrpc(admission.status).code(), 0);
    return admission.status;
  }
  return ToGrpc(handler_.Retrieve(*req, resp));
}

grpc::Status RetrievalServiceImpl::SimilarItems(grpc::ServerContext* ctx,
                                                const v1::SimilarItemsRequest* req,
                                                v1::SimilarItemsResponse* resp) {
  auto admission = grpcutil::Admit(limiter_, *ctx);
  if (!grpcutil::Admitted(admission)) {
    handler_.metrics().rpc.Record("SimilarItems", FromGrpc(admission.status).code(), 0);
    return admission.status;
  }
  return ToGrpc(handler_.SimilarItems(*req, resp));
}

grpc::Status RetrievalServiceImpl::SampleUsers(grpc::ServerContext*,
                                               const v1::SampleUsersRequest* req,
                                               v1::SampleUsersResponse* resp) {
  return ToGrpc(handler_.SampleUsers(*req, resp));
}

}  // namespace recstack::retrieval
