#pragma once

// Polls a training-service job until it ends (at most `tries` x 50 ms), for
// the training integration tests.

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "recstack/v1/training.grpc.pb.h"

namespace recstack::testing {

inline v1::Job WaitJob(v1::TrainingService::Stub& stub, const std::string& id, int tries = 1200) {
  v1::Job job;
  for (int i = 0; i < tries; ++i) {
    grpc::ClientContext ctx;
    v1::GetJobRequest get;
    get.set_job_id(id);
    EXPECT_TRUE(stub.GetJob(&ctx, get, &job).ok());
    if (job.state() == v1::SUCCEEDED || job.state() == v1::FAILED || job.state() == v1::CANCELLED)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return job;
}

}  // namespace recstack::testing
