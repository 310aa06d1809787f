// recstack ranker train / evaluate, recstack experiment report: the
// feedback loop on the training service (docs/rankers.md,
// docs/experiments.md).
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/config/ports.h"
#include "common/grpc/channel.h"
#include "common/grpc/status.h"
#include "common/stats/experiment.h"
#include "common/stats/readout_json.h"
#include "common/stats/readout_proto.h"
#include "common/status/status.h"
#include "recstack/v1/training.grpc.pb.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"
#include "tools/recstack/job_follow.h"

namespace recstack::cli {
namespace {

// JSON has no NaN or infinity: those are null.
nlohmann::json Number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

absl::StatusOr<int64_t> DurationMs(const std::string& flag, const std::string& text) {
  if (text.empty()) return 0;
  auto d = config::ParseDuration(text);
  if (!d.ok())
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", d.status().message()));
  if (d->count() <= 0) return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be > 0"));
  return d->count();
}

nlohmann::json MetricsJson(const google::protobuf::Map<std::string, double>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : m) j[k] = Number(v);
  return j;
}

nlohmann::json RankerJobJson(const v1::Job& job) {
  nlohmann::json j = {{"job_id", job.job_id()},
                      {"state", v1::JobState_Name(job.state())},
                      {"model", job.ranker_params().model()},
                      {"version", job.model_version()},
                      {"rows", job.rows()},
                      {"positives", job.positives()}};
  for (const char* k : {"auc", "logloss", "ndcg@10"}) {
    auto it = job.metrics().find(k);
    j[k] = it == job.metrics().end() ? nlohmann::json() : Number(it->second);
  }
  j["baseline"] = MetricsJson(job.baseline_metrics());
  j["baseline"]["ranker"] = "linear";
  nlohmann::json history = nlohmann::json::array();
  for (const auto& h : job.history()) {
    nlohmann::json e = MetricsJson(h.metrics());
    e[job.ranker_params().model() == "logistic" ? "epoch" : "round"] = h.iteration();
    history.push_back(std::move(e));
  }
  j["history"] = std::move(history);
  double seconds = 0;
  for (const auto& [k, v] : job.timings_seconds()) seconds += v;
  j["seconds"] = seconds;
  if (!job.error().empty()) j["error"] = job.error();
  return j;
}

nlohmann::json EstimateJson(const v1::Estimate& e) {
  return {{"estimate", Number(e.estimate())},
          {"ci", {Number(e.ci_low()), Number(e.ci_high())}},
          {"variance", Number(e.variance())}};
}

void PrintLines(const nlohmann::json& j) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "history") continue;
    std::cout << std::left << std::setw(12) << it.key() << it.value().dump() << "\n";
  }
}

}  // namespace

void RegisterRankerCommands(CLI::App& app, const Dialer& dialer) {
  struct Opts {
    std::string addr = config::DefaultAddress("training");
    std::string model, optimizer, window, attribution, position, objective, timeout = "0";
    std::string ranker, experiment, control, missing, mask;
    double learning_rate = 0, regularization = 0, eta = 0, holdout = 0, confidence = 0.95;
    int epochs = 0, batch_size = 0, rounds = 0, max_depth = 0;
    uint64_t seed = 0;
    bool no_standardize = false, dry_run = false, wait = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* ranker = app.add_subcommand("ranker", "Learned rankers from the logged clicks");
  ranker->require_subcommand(1);

  CLI::App* train = ranker->add_subcommand(
      "train", "Train gbdt or logistic on logged impressions and their clicks, publish a version");
  train->add_option("--addr", o->addr, "training service HOST:PORT")->capture_default_str();
  train->add_option("--model", o->model, "gbdt | logistic")->required();
  train->add_option("--window", o->window, "learn from the impressions of the last (default 24h)");
  train->add_option("--attribution", o->attribution,
                    "a click counts within this of its impression (default 30m)");
  train->add_option("--holdout", o->holdout,
                    "newest share of requests held out for evaluation (default 0.2)");
  train->add_option("--position", o->position,
                    "position bias: feature (default; the top when serving) | ips");
  train->add_option("--optimizer", o->optimizer, "logistic: sgd | momentum | adam (default)");
  train->add_option("--learning-rate", o->learning_rate, "logistic (default 0.05)");
  train->add_option("--epochs", o->epochs, "logistic (default 20)");
  train->add_option("--batch-size", o->batch_size, "logistic (default 256)");
  train->add_option("--regularization", o->regularization, "logistic: L2 (default 1e-4)");
  train->add_flag("--no-standardize", o->no_standardize, "logistic: raw features");
  train->add_option("--missing", o->missing,
                    "logistic: impute (mean plus an is-missing column; default) | drop (rows)");
  train->add_option("--mask", o->mask,
                    "FEATURE:RATE: blank a feature in a seeded share of the impressions "
                    "(e.g. item_age_days:0.3), to see how missing values are handled");
  train->add_option("--objective", o->objective, "gbdt: binary:logistic (default) | rank:ndcg");
  train->add_option("--rounds", o->rounds, "gbdt: trees (default 100)");
  train->add_option("--max-depth", o->max_depth, "gbdt (default 6)");
  train->add_option("--eta", o->eta, "gbdt: learning rate (default 0.3)");
  train->add_option("--seed", o->seed, "shuffles and subsampling");
  train->add_flag("--dry-run", o->dry_run, "train and evaluate, publish nothing");
  train->add_flag("--wait", o->wait, "follow the job to its end");
  train->add_option("--timeout", o->timeout, "give up waiting after this (0 = never)")
      ->capture_default_str();
  train->add_flag("--json", o->json, "print JSON");
  train->callback([o, &dialer] {
    RunCommand("ranker train", [&]() -> absl::Status {
      v1::StartRankerTrainingRequest req;
      v1::RankerTrainingParams* p = req.mutable_params();
      p->set_model(o->model);
      RECSTACK_ASSIGN_OR_RETURN(int64_t window, DurationMs("window", o->window));
      RECSTACK_ASSIGN_OR_RETURN(int64_t attribution, DurationMs("attribution", o->attribution));
      p->set_window_ms(window);
      p->set_attribution_ms(attribution);
      p->set_holdout(o->holdout);
      p->set_position(o->position);
      p->set_optimizer(o->optimizer);
      p->set_learning_rate(o->learning_rate);
      p->set_epochs(o->epochs);
      p->set_batch_size(o->batch_size);
      p->set_regularization(o->regularization);
      p->set_no_standardize(o->no_standardize);
      p->set_missing(o->missing);
      p->set_mask(o->mask);
      p->set_objective(o->objective);
      p->set_rounds(o->rounds);
      p->set_max_depth(o->max_depth);
      p->set_eta(o->eta);
      p->set_seed(o->seed);
      p->set_dry_run(o->dry_run);
      auto timeout = config::ParseDuration(o->timeout);
      if (!timeout.ok())
        return absl::InvalidArgumentError(absl::StrCat("--timeout: ", timeout.status().message()));
      const auto give_up = timeout->count() > 0 ? std::chrono::steady_clock::now() + *timeout
                                                : std::chrono::steady_clock::time_point::max();
      RECSTACK_ASSIGN_OR_RETURN(auto channel, dialer.Dial(o->addr));
      auto stub = v1::TrainingService::NewStub(channel);
      v1::Job job;
      {
        grpc::ClientContext ctx;
        grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
        RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->StartRankerTraining(&ctx, req, &job)));
      }
      if (!o->json) std::cerr << "job " << job.job_id() << " started\n";
      if (o->wait) {
        RECSTACK_ASSIGN_OR_RETURN(job, FollowJob(*stub, std::move(job), give_up));
      }
      const nlohmann::json j = RankerJobJson(job);
      if (o->json) {
        std::cout << j.dump() << "\n";
      } else {
        PrintLines(j);
      }
      if (job.state() == v1::FAILED)
        return absl::InternalError(absl::StrCat("job failed: ", job.error()));
      return absl::OkStatus();
    });
  });

  CLI::App* evaluate = ranker->add_subcommand(
      "evaluate", "Estimate a ranker's CTR from the logs before it gets traffic (IPS, SNIPS)");
  evaluate->add_option("--addr", o->addr, "training service HOST:PORT")->capture_default_str();
  evaluate->add_option("--ranker", o->ranker, "linear, recency, gbdt, gbdt@v12, ...")->required();
  evaluate->add_option("--window", o->window, "the impressions of the last (default 24h)");
  evaluate->add_option("--attribution", o->attribution, "click attribution (default 30m)");
  evaluate->add_option("--confidence", o->confidence, "of the intervals")->capture_default_str();
  evaluate->add_flag("--json", o->json, "print JSON");
  evaluate->callback([o, &dialer] {
    RunCommand("ranker evaluate", [&]() -> absl::Status {
      v1::EvaluateRankerRequest req;
      req.set_ranker(o->ranker);
      RECSTACK_ASSIGN_OR_RETURN(int64_t window, DurationMs("window", o->window));
      RECSTACK_ASSIGN_OR_RETURN(int64_t attribution, DurationMs("attribution", o->attribution));
      req.set_window_ms(window);
      req.set_attribution_ms(attribution);
      req.set_confidence(o->confidence);
      RECSTACK_ASSIGN_OR_RETURN(auto channel, dialer.Dial(o->addr));
      auto stub = v1::TrainingService::NewStub(channel);
      grpc::ClientContext ctx;
      grpcutil::SetDeadline(ctx, std::chrono::seconds(60));
      v1::EvaluateRankerResponse r;
      RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->EvaluateRanker(&ctx, req, &r)));
      const nlohmann::json j = {{"ranker", r.ranker()},
                                {"ranker_version", r.ranker_version()},
                                {"requests", r.requests()},
                                {"impressions", r.impressions()},
                                {"clicks", r.clicks()},
                                {"logged_ctr", Number(r.logged_ctr())},
                                {"ips", EstimateJson(r.ips())},
                                {"snips", EstimateJson(r.snips())},
                                {"effective_sample_size", Number(r.effective_sample_size())},
                                {"max_weight", Number(r.max_weight())},
                                {"explored_share", Number(r.explored_share())}};
      if (o->json) {
        std::cout << j.dump() << "\n";
      } else {
        PrintLines(j);
      }
      return absl::OkStatus();
    });
  });

  CLI::App* experiment = app.add_subcommand("experiment", "Experiments read from the logs");
  experiment->require_subcommand(1);
  CLI::App* report = experiment->add_subcommand(
      "report", "Per variant CTR with 95% CIs, lifts, p-value, SRM check and MDE");
  report->add_option("--addr", o->addr, "training service HOST:PORT")->capture_default_str();
  report->add_option("--experiment", o->experiment, "its name in the experiments file")->required();
  report->add_option("--control", o->control, "the control variant (default: the first)");
  report->add_option("--window", o->window, "only impressions of the last (default: all)");
  report->add_option("--attribution", o->attribution, "click attribution (default 30m)");
  report->add_flag("--json", o->json, "print JSON");
  report->callback([o, &dialer] {
    RunCommand("experiment report", [&]() -> absl::Status {
      v1::ExperimentReportRequest req;
      req.set_experiment(o->experiment);
      req.set_control(o->control);
      RECSTACK_ASSIGN_OR_RETURN(int64_t window, DurationMs("window", o->window));
      RECSTACK_ASSIGN_OR_RETURN(int64_t attribution, DurationMs("attribution", o->attribution));
      req.set_window_ms(window);
      req.set_attribution_ms(attribution);
      RECSTACK_ASSIGN_OR_RETURN(auto channel, dialer.Dial(o->addr));
      auto stub = v1::TrainingService::NewStub(channel);
      grpc::ClientContext ctx;
      grpcutil::SetDeadline(ctx, std::chrono::seconds(60));
      v1::ExperimentReportResponse resp;
      RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->ExperimentReport(&ctx, req, &resp)));
      const stats::Readout r = stats::ReadoutFromProto(resp);
      if (o->json) {
        std::cout << stats::ReadoutReportJson(r).dump() << "\n";
        return absl::OkStatus();
      }
      std::cout << "experiment " << r.experiment << " (control " << r.control << ")\n";
      std::cout << "  variant        ranker          users  impressions   clicks     ctr  95% CI\n";
      for (const auto& v : r.variants) {
        std::cout << "  " << std::left << std::setw(15) << v.name << std::setw(14) << v.ranker
                  << std::right << std::setw(7) << v.users << std::setw(13) << v.impressions
                  << std::setw(9) << v.clicks << std::fixed << std::setprecision(4) << std::setw(8)
                  << v.ctr << "  [" << v.ctr_ci.lo << ", " << v.ctr_ci.hi << "]\n";
      }
      for (const auto& c : r.comparisons) {
        std::cout << "  " << c.variant << " vs " << c.control << ": relative lift "
                  << std::setprecision(3) << 100 * c.rel_lift << "% [" << 100 * c.rel_lift_ci.lo
                  << "%, " << 100 * c.rel_lift_ci.hi << "%], p = " << std::setprecision(4)
                  << c.p_value << ", MDE " << std::setprecision(3) << 100 * c.mde_rel << "%\n";
      }
      std::cout << "  sample ratio mismatch p = " << std::setprecision(4) << r.srm_p_value
                << (r.srm_p_value < 0.001 ? "  (MISMATCH: do not trust the lifts)" : "") << "\n";
      return absl::OkStatus();
    });
  });

  struct SizeOpts {
    double baseline = 0, lift = 0.02, user_variance = 0, power = 0.8, alpha = 0.05;
    bool json = false;
  };
  auto so = std::make_shared<SizeOpts>();
  CLI::App* size = experiment->add_subcommand(
      "sample-size", "Users per arm to detect a relative CTR lift (two-sided z test)");
  size->add_option("--baseline", so->baseline, "the control's CTR, in (0, 1]")->required();
  size->add_option("--lift", so->lift, "relative lift to detect")->capture_default_str();
  size->add_option("--user-variance", so->user_variance,
                   "per-user variance of the linearized CTR (a report's variants[].user_variance; "
                   "default p(1-p), one impression per user)");
  size->add_option("--power", so->power)->capture_default_str();
  size->add_option("--alpha", so->alpha, "two-sided level")->capture_default_str();
  size->add_flag("--json", so->json, "print JSON");
  size->callback([so] {
    RunCommand("experiment sample-size", [&]() -> absl::Status {
      const double variance =
          so->user_variance > 0 ? so->user_variance : so->baseline * (1 - so->baseline);
      RECSTACK_ASSIGN_OR_RETURN(
          int64_t n, stats::UsersPerArm(so->baseline, variance, so->lift, so->power, so->alpha));
      const nlohmann::json j = {{"baseline", so->baseline},  {"lift", so->lift},
                                {"user_variance", variance}, {"power", so->power},
                                {"alpha", so->alpha},        {"users_per_arm", n},
                                {"users_total", 2 * n}};
      if (so->json) {
        std::cout << j.dump() << "\n";
      } else {
        PrintLines(j);
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace recstack::cli
