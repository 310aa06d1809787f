#pragma once

// Following a training-service job to its end (recstack train --addr,
// recstack ranker train): each poll has its own deadline, the wait has none
// unless the caller gives one, and a few failed polls in a row (the service
// restarting, a busy machine) are retried before giving up.

#include <chrono>
#include <functional>

#include "absl/status/statusor.h"
#include "recstack/v1/training.grpc.pb.h"

namespace recstack::cli {

bool TerminalJob(v1::JobState state);

// Polls `job` until it is terminal or `give_up` passes (DEADLINE_EXCEEDED,
// naming the job, which goes on on the service). `on_poll` sees each state.
absl::StatusOr<v1::Job> FollowJob(v1::TrainingService::Stub& stub, v1::Job job,
                                  std::chrono::steady_clock::time_point give_up,
                                  const std::function<void(const v1::Job&)>& on_poll = nullptr);

}  // namespace recstack::cli
