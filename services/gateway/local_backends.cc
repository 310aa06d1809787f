#include "services/gateway/local_backends.h"

#include "absl/strings/str_cat.h"

namespace recstack::gateway {
namespace {

// `call(&resp)` unless `deadline` has passed; the response or its error.
template <typename Resp, typename Call>
absl::StatusOr<Resp> CallBefore(Deadline deadline, const char* what, Call call) {
  if (std::chrono::system_clock::now() >= deadline) {
    return absl::DeadlineExceededError(absl::StrCat(what, ": the deadline passed before the call"));
  }
  Resp resp;
  if (absl::Status st = call(&resp); !st.ok()) return st;
  return resp;
}

}  // namespace

absl::StatusOr<v1::RetrieveResponse> LocalRetrievalBackend::Retrieve(const v1::RetrieveRequest& req,
                                                                     Deadline deadline) {
  return CallBefore<v1::RetrieveResponse>(
      deadline, "retrieval", [&](v1::RetrieveResponse* r) { return handler_.Retrieve(req, r); });
}

absl::StatusOr<v1::SimilarItemsResponse> LocalRetrievalBackend::SimilarItems(
    const v1::SimilarItemsRequest& req, Deadline deadline) {
  return CallBefore<v1::SimilarItemsResponse>(
      deadline, "retrieval",
      [&](v1::SimilarItemsResponse* r) { return handler_.SimilarItems(req, r); });
}

absl::StatusOr<v1::SampleUsersResponse> LocalRetrievalBackend::SampleUsers(
    const v1::SampleUsersRequest& req, Deadline deadline) {
  return CallBefore<v1::SampleUsersResponse>(
      deadline, "retrieval",
      [&](v1::SampleUsersResponse* r) { return handler_.SampleUsers(req, r); });
}

absl::StatusOr<v1::RankResponse> LocalRankingBackend::Rank(const v1::RankRequest& req,
                                                           Deadline deadline) {
  return CallBefore<v1::RankResponse>(deadline, "ranking",
                                      [&](v1::RankResponse* r) { return handler_.Rank(req, r); });
}

absl::StatusOr<v1::ListRankersResponse> LocalRankingBackend::ListRankers(
    const v1::ListRankersRequest& req, Deadline deadline) {
  return CallBefore<v1::ListRankersResponse>(deadline, "ranking", [&](v1::ListRankersResponse* r) {
    return handler_.ListRankers(req, r);
  });
}

}  // namespace recstack::gateway
