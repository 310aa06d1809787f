// `recstack train --addr`: the same training as a job on recstack-training.
#include <chrono>
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/grpc/channel.h"
#include "common/grpc/status.h"
#include "common/status/status.h"
#include "recstack/v1/training.grpc.pb.h"
#include "tools/recstack/job_follow.h"
#include "tools/recstack/train_options.h"

namespace recstack::cli {
namespace {

nlohmann::json JobJson(const v1::Job& job) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : job.metrics()) j[k] = v;
  j["job_id"] = job.job_id();
  j["state"] = v1::JobState_Name(job.state());
  j["model_version"] = job.model_version();
  j["iterations_run"] = job.iteration();
  j["users"] = job.n_users();
  j["items"] = job.n_items();
  j["interactions"] = job.n_interactions();
  double seconds = 0;
  for (const auto& [k, v] : job.timings_seconds()) {
    j[absl::StrCat(k, "_seconds")] = v;
    seconds += v;
  }
  j["seconds"] = seconds;
  if (!job.error().empty()) j["error"] = job.error();
  return j;
}

}  // namespace

absl::Status RunRemoteTraining(const TrainOptions& o, const Dialer& dialer) {
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainConfig cfg, o.ToConfig());
  auto timeout = config::ParseDuration(o.timeout);
  if (!timeout.ok())
    return absl::InvalidArgumentError(absl::StrCat("--timeout: ", timeout.status().message()));
  const auto give_up = timeout->count() > 0 ? std::chrono::steady_clock::now() + *timeout
                                            : std::chrono::steady_clock::time_point::max();
  RECSTACK_ASSIGN_OR_RETURN(auto channel, dialer.Dial(o.addr));
  auto stub = v1::TrainingService::NewStub(channel);
  v1::StartTrainingRequest req;
  req.set_algorithm(cfg.algorithm == mf::Algorithm::kEase          ? v1::EASE
                    : cfg.algorithm == mf::Algorithm::kExplicitAls ? v1::ALS_EXPLICIT
                                                                   : v1::ALS_IMPLICIT);
  v1::TrainingParams* p = req.mutable_params();
  p->set_factors(cfg.als.factors);
  p->set_iterations(cfg.als.iterations);
  p->set_regularization(cfg.algorithm == mf::Algorithm::kEase ? cfg.ease.lambda
                                                              : cfg.als.regularization);
  p->set_alpha(cfg.als.alpha);
  p->set_cg_steps(cfg.als.cg_steps);
  p->set_threads(cfg.als.threads);
  p->set_seed(cfg.als.seed);
  p->set_split(o.split == "none" ? "" : o.split);
  p->set_eval_k(cfg.k);
  p->set_early_stopping_metric(cfg.early_stopping_metric);
  p->set_patience(cfg.patience);
  v1::Job job;
  {
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
    RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->StartTraining(&ctx, req, &job)));
  }
  if (!o.json) std::cerr << "job " << job.job_id() << " started\n";
  int last_iteration = -1;
  if (o.wait) {
    RECSTACK_ASSIGN_OR_RETURN(
        job, FollowJob(*stub, std::move(job), give_up, [&](const v1::Job& j) {
          if (!o.json && !o.quiet && j.iteration() != last_iteration && j.state() == v1::RUNNING) {
            last_iteration = j.iteration();
            std::cerr << "iteration " << j.iteration() << "/" << j.total_iterations() << "  loss "
                      << std::setprecision(6) << j.loss() << "\n";
          }
        }));
  }
  nlohmann::json j = JobJson(job);
  if (o.json) {
    std::cout << j.dump() << "\n";
  } else {
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::cout << std::left << std::setw(22) << it.key() << it.value().dump() << "\n";
    }
  }
  if (job.state() == v1::FAILED)
    return absl::InternalError(absl::StrCat("job failed: ", job.error()));
  return absl::OkStatus();
}

}  // namespace recstack::cli
