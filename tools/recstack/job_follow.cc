#include "tools/recstack/job_follow.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc/channel.h"
#include "common/grpc/status.h"

namespace recstack::cli {

bool TerminalJob(v1::JobState s) {
  return s == v1::SUCCEEDED || s == v1::FAILED || s == v1::CANCELLED;
}

absl::StatusOr<v1::Job> FollowJob(v1::TrainingService::Stub& stub, v1::Job job,
                                  std::chrono::steady_clock::time_point give_up,
                                  const std::function<void(const v1::Job&)>& on_poll) {
  int failed_polls = 0;
  while (!TerminalJob(job.state())) {
    if (std::chrono::steady_clock::now() >= give_up) {
      return absl::DeadlineExceededError(absl::StrCat("job ", job.job_id(), " still ",
                                                      v1::JobState_Name(job.state()),
                                                      " after --timeout (it goes on on the "
                                                      "service)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(failed_polls > 0 ? 1000 : 200));
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
    v1::GetJobRequest get;
    get.set_job_id(job.job_id());
    v1::Job polled;
    grpc::Status st = stub.GetJob(&ctx, get, &polled);
    if (!st.ok()) {
      const bool transient = st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      if (transient && ++failed_polls < 30) continue;
      return FromGrpc(st);
    }
    failed_polls = 0;
    job = std::move(polled);
    if (on_poll) on_poll(job);
  }
  return job;
}

}  // namespace recstack::cli
