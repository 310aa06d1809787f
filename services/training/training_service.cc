#include "services/training/training_service.h"

#include <charconv>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/status.h"
#include "common/stats/readout_proto.h"
#include "common/status/status.h"

namespace recstack::training {
namespace {

v1::JobState StateToProto(JobState s) {
  switch (s) {
    case JobState::kPending:
      return v1::PENDING;
    case JobState::kLoading:
      return v1::LOADING;
    case JobState::kRunning:
      return v1::RUNNING;
    case JobState::kPublishing:
      return v1::PUBLISHING;
    case JobState::kSucceeded:
      return v1::SUCCEEDED;
    case JobState::kFailed:
      return v1::FAILED;
    case JobState::kCancelled:
      return v1::CANCELLED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

// The API's name of a stored model kind (ModelInfo, and a job's algorithm
// through StoredKind: the API has no SGD value).
v1::Algorithm KindToProto(model::ModelKind kind) {
  switch (kind) {
    case model::ModelKind::kExplicitAls:
      return v1::ALS_EXPLICIT;
    case model::ModelKind::kEase:
      return v1::EASE;
    case model::ModelKind::kRankerGbdt:
      return v1::RANKER_GBDT;
    case model::ModelKind::kRankerLogistic:
      return v1::RANKER_LOGISTIC;
    case model::ModelKind::kImplicitAls:
      break;
  }
  return v1::ALS_IMPLICIT;
}

void RankerParamsToProto(const RankerJobSpec& s, v1::RankerTrainingParams* p) {
  p->set_model(ranking::LearnedKindName(s.kind));
  p->set_window_ms(s.window_ms);
  p->set_attribution_ms(s.attribution_ms);
  p->set_holdout(s.holdout);
  p->set_position(s.position == PositionMode::kIps ? "ips" : "feature");
  p->set_optimizer(std::string(ml::OptimizerName(s.logistic.optimizer)));
  p->set_learning_rate(s.logistic.learning_rate);
  p->set_epochs(s.logistic.epochs);
  p->set_batch_size(s.logistic.batch_size);
  p->set_regularization(s.logistic.l2);
  p->set_no_standardize(!s.logistic.standardize);
  p->set_missing(std::string(ml::MissingPolicyName(s.logistic.missing)));
  if (!s.mask_feature.empty()) p->set_mask(absl::StrCat(s.mask_feature, ":", s.mask_rate));
  p->set_objective(std::string(ml::GbdtObjectiveName(s.gbdt.objective)));
  p->set_rounds(s.gbdt.rounds);
  p->set_max_depth(s.gbdt.max_depth);
  p->set_eta(s.gbdt.eta);
  p->set_seed(s.gbdt.seed);
  p->set_dry_run(!s.publish);
}

void JobToProto(const JobInfo& j, v1::Job* p) {
  p->set_job_id(j.id);
  p->set_state(StateToProto(j.state));
  p->set_algorithm(KindToProto(j.spec.ranker.has_value() ? ranking::ModelKindOf(j.spec.ranker->kind)
                                                         : StoredKind(j.spec.config.algorithm)));
  if (j.spec.ranker.has_value()) {
    RankerParamsToProto(*j.spec.ranker, p->mutable_ranker_params());
    p->set_rows(j.rows);
    p->set_positives(j.positives);
    p->mutable_baseline_metrics()->insert(j.baseline_metrics.begin(), j.baseline_metrics.end());
  }
  const mf::AlsParams& a = j.spec.config.als;
  v1::TrainingParams* tp = p->mutable_params();
  tp->set_factors(a.factors);
  tp->set_iterations(a.iterations);
  tp->set_regularization(j.spec.config.algorithm == mf::Algorithm::kEase ? j.spec.config.ease.lambda
                                                                         : a.regularization);
  tp->set_alpha(a.alpha);
  tp->set_cg_steps(a.cg_steps);
  tp->set_threads(a.threads);
  tp->set_seed(a.seed);
  tp->set_split(j.spec.split);
  tp->set_eval_k(j.spec.config.k);
  tp->set_early_stopping_metric(j.spec.config.early_stopping_metric);
  tp->set_patience(j.spec.config.patience);
  tp->mutable_event_weights()->insert(j.spec.event_weights.begin(), j.spec.event_weights.end());
  p->set_iteration(j.iteration);
  p->set_total_iterations(a.iterations);
  p->set_loss(j.loss);
  p->mutable_metrics()->insert(j.metrics.begin(), j.metrics.end());
  for (const auto& r : j.history) {
    auto* h = p->add_history();
    h->set_iteration(r.iteration);
    h->set_loss(r.loss);
    h->set_seconds(r.seconds);
    h->mutable_metrics()->insert(r.metrics.begin(), r.metrics.end());
  }
  p->mutable_timings_seconds()->insert(j.timings.begin(), j.timings.end());
  p->set_model_version(j.model_version);
  p->set_error(j.error);
  p->set_created_at_ms(j.created_at_ms);
  p->set_finished_at_ms(j.finished_at_ms);
  p->set_n_users(j.n_users);
  p->set_n_items(j.n_items);
  p->set_n_interactions(j.n_interactions);
}

void ModelToProto(const model::ModelMeta& m, const std::string& current, v1::ModelInfo* p) {
  p->set_version(m.version);
  p->set_algorithm(KindToProto(m.kind));
  p->mutable_params()->insert(m.params.begin(), m.params.end());
  p->mutable_metrics()->insert(m.metrics.begin(), m.metrics.end());
  p->set_n_users(m.n_users);
  p->set_n_items(m.n_items);
  p->set_factors(m.factors);
  p->set_created_at_ms(m.created_at_ms);
  p->set_current(m.version == current);
}

// A job's answer: the job, or its error; the timer gets the code.
grpc::Status AnswerJob(metrics::RpcTimer& timer, const absl::StatusOr<JobInfo>& job,
                       v1::Job* resp) {
  timer.set_code(job.status().code());
  if (!job.ok()) return ToGrpc(job.status());
  JobToProto(*job, resp);
  return grpc::Status::OK;
}

}  // namespace

TrainingMetrics::TrainingMetrics(prometheus::Registry& registry)
    : rpc(registry, "training",
          {"StartTraining", "GetJob", "CancelJob", "ListJobs", "ListModels", "PromoteModel",
           "StartRankerTraining", "EvaluateRanker", "ExperimentReport"}) {
  duration = &prometheus::BuildHistogram()
                  .Name("recstack_training_duration_seconds")
                  .Help("Wall time of finished training jobs")
                  .Register(registry)
                  .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 0.5, 1, 5, 10, 30, 60, 300,
                                                                   900, 3600});
  iterations = &prometheus::BuildCounter()
                    .Name("recstack_training_iterations_total")
                    .Help("ALS iterations run")
                    .Register(registry)
                    .Add({});
  loss = &prometheus::BuildGauge()
              .Name("recstack_training_loss")
              .Help("Loss of the latest iteration")
              .Register(registry)
              .Add({});
  model_version = &prometheus::BuildGauge()
                       .Name("recstack_training_model_version")
                       .Help("Number of the last published model version (vN)")
                       .Register(registry)
                       .Add({});
  events_consumed = &prometheus::BuildCounter()
                         .Name("recstack_training_events_consumed_total")
                         .Help("Events read from the stream into the snapshot")
                         .Register(registry)
                         .Add({});
  auto& jobs_family = prometheus::BuildCounter()
                          .Name("recstack_training_jobs_total")
                          .Help("Finished jobs by outcome")
                          .Register(registry);
  jobs[0] = &jobs_family.Add({{"outcome", "succeeded"}});
  jobs[1] = &jobs_family.Add({{"outcome", "failed"}});
  jobs[2] = &jobs_family.Add({{"outcome", "cancelled"}});
  validation = &prometheus::BuildGauge()
                    .Name("recstack_training_validation")
                    .Help("Held-out metrics of the last finished job")
                    .Register(registry);
  auto gauge = [&registry](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
  };
  feedback_impressions = gauge("recstack_training_feedback_impressions",
                               "Impressions the feedback log holds (within its retention)");
  feedback_clicks =
      gauge("recstack_training_feedback_clicks", "Clicks with a request id the feedback log holds");
  feedback_file_bytes = gauge("recstack_training_feedback_file_bytes", "Size of feedback.log");
  feedback_dropped = gauge("recstack_training_feedback_dropped_entries",
                           "Impressions and clicks dropped by the retention since start-up");
  feedback_compactions =
      gauge("recstack_training_feedback_compactions", "Rewrites of feedback.log since start-up");
}

void TrainingMetrics::ObserveFeedback(const FeedbackStats& s) {
  feedback_impressions->Set(static_cast<double>(s.impressions));
  feedback_clicks->Set(static_cast<double>(s.clicks));
  feedback_file_bytes->Set(static_cast<double>(s.file_bytes));
  feedback_dropped->Set(static_cast<double>(s.dropped_entries));
  feedback_compactions->Set(static_cast<double>(s.compactions));
}

JobObserver MetricsObserver(TrainingMetrics& m) {
  JobObserver o;
  o.on_iteration = [&m](const mf::IterationReport& r) {
    m.iterations->Increment();
    m.loss->Set(r.loss);
  };
  o.on_events_consumed = [&m](int64_t n) { m.events_consumed->Increment(static_cast<double>(n)); };
  o.on_finished = [&m](const JobInfo& j) {
    double total = 0;
    for (const auto& [k, v] : j.timings) total += v;
    m.duration->Observe(total);
    m.jobs[j.state == JobState::kSucceeded ? 0 : j.state == JobState::kFailed ? 1 : 2]->Increment();
    // Metric names are a small fixed set (ndcg@k, rmse, ...); children are
    // added off the request path, on the job thread.
    for (const auto& [k, v] : j.metrics) m.validation->Add({{"metric", k}}).Set(v);
    if (j.model_version.size() > 1) {
      int64_t n = 0;
      std::from_chars(j.model_version.data() + 1, j.model_version.data() + j.model_version.size(),
                      n);
      m.model_version->Set(static_cast<double>(n));
    }
  };
  return o;
}

absl::StatusOr<JobSpec> SpecFromProto(const v1::StartTrainingRequest& req) {
  JobSpec spec;
  switch (req.algorithm()) {
    case v1::ALS_EXPLICIT:
      spec.config.algorithm = mf::Algorithm::kExplicitAls;
      // The same defaults as `recstack train`: Gibbs sampling (BPMF), 60
      // sweeps (docs/training.md).
      spec.config.als.factors = 64;
      spec.config.als.regularization = 0.1f;
      spec.config.als.explicit_solver = mf::ExplicitSolver::kGibbs;
      spec.config.als.iterations = 60;
      break;
    case v1::ALS_IMPLICIT:
    case v1::ALGORITHM_UNSPECIFIED:
      spec.config.algorithm = mf::Algorithm::kImplicitAls;
      // The defaults `recstack tune` finds on MovieLens 100K.
      spec.config.als.factors = 64;
      spec.config.als.regularization = 20.0f;
      spec.config.als.alpha = 0.3f;
      break;
    case v1::EASE:
      // One closed-form fit; regularization is lambda (mf::EaseParams default).
      spec.config.algorithm = mf::Algorithm::kEase;
      spec.config.als.iterations = 1;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown algorithm ", req.algorithm()));
  }
  const v1::TrainingParams& p = req.params();
  if (p.factors() < 0 || p.iterations() < 0 || p.regularization() < 0 || p.alpha() < 0 ||
      p.cg_steps() < 0 || p.threads() < 0 || p.eval_k() < 0 || p.patience() < 0) {
    return absl::InvalidArgumentError("training parameters must not be negative");
  }
  if (p.factors() > 0) spec.config.als.factors = p.factors();
  if (p.iterations() > 0) spec.config.als.iterations = p.iterations();
  if (p.regularization() > 0)
    spec.config.als.regularization = static_cast<float>(p.regularization());
  if (p.regularization() > 0) spec.config.ease.lambda = static_cast<float>(p.regularization());
  if (p.alpha() > 0) spec.config.als.alpha = static_cast<float>(p.alpha());
  if (p.cg_steps() > 0) spec.config.als.cg_steps = p.cg_steps();
  if (p.threads() > 0) spec.config.als.threads = p.threads();
  if (p.seed() > 0) spec.config.als.seed = p.seed();
  if (!p.split().empty()) spec.split = p.split();
  if (p.eval_k() > 0) spec.config.k = p.eval_k();
  spec.config.early_stopping_metric = p.early_stopping_metric();
  if (p.patience() > 0) spec.config.patience = p.patience();
  if (!p.event_weights().empty()) {
    for (const auto& [k, v] : p.event_weights()) {
      if (!spec.event_weights.count(k)) {
        return absl::InvalidArgumentError(
            absl::StrCat("event_weights: '", k, "' is not an event type"));
      }
      if (k == "IMPRESSION" && v != 0) {
        return absl::InvalidArgumentError(
            "event_weights: IMPRESSION must be 0: impressions are not interactions (they are "
            "kept in the feedback log for the learned rankers, not in the training snapshot)");
      }
      spec.event_weights[k] = v;
    }
  }
  spec.publish = !req.dry_run();
  if (absl::Status st = spec.config.Validate(); !st.ok()) return st;
  if (auto split = mf::ParseSplit(spec.split); !split.ok()) return split.status();
  return spec;
}

absl::StatusOr<JobSpec> RankerSpecFromProto(const v1::RankerTrainingParams& p) {
  JobSpec spec;
  RankerJobSpec r;
  if (p.model().empty()) return absl::InvalidArgumentError("model is required: gbdt or logistic");
  RECSTACK_ASSIGN_OR_RETURN(r.kind, ranking::ParseLearnedKind(p.model()));
  if (p.window_ms() < 0 || p.attribution_ms() < 0 || p.holdout() < 0 || p.epochs() < 0 ||
      p.batch_size() < 0 || p.learning_rate() < 0 || p.regularization() < 0 || p.rounds() < 0 ||
      p.max_depth() < 0 || p.eta() < 0) {
    return absl::InvalidArgumentError("ranker training parameters must not be negative");
  }
  if (p.window_ms() > 0) r.window_ms = p.window_ms();
  if (p.attribution_ms() > 0) r.attribution_ms = p.attribution_ms();
  if (p.holdout() > 0) r.holdout = p.holdout();
  if (p.position() == "ips") {
    r.position = PositionMode::kIps;
  } else if (!p.position().empty() && p.position() != "feature") {
    return absl::InvalidArgumentError(
        absl::StrCat("position must be feature or ips, got '", p.position(), "'"));
  }
  if (!p.optimizer().empty()) {
    RECSTACK_ASSIGN_OR_RETURN(r.logistic.optimizer, ml::ParseOptimizer(p.optimizer()));
  }
  if (p.learning_rate() > 0) r.logistic.learning_rate = p.learning_rate();
  if (p.epochs() > 0) r.logistic.epochs = p.epochs();
  if (p.batch_size() > 0) r.logistic.batch_size = p.batch_size();
  if (p.regularization() > 0) r.logistic.l2 = p.regularization();
  r.logistic.standardize = !p.no_standardize();
  if (!p.missing().empty()) {
    RECSTACK_ASSIGN_OR_RETURN(r.logistic.missing, ml::ParseMissingPolicy(p.missing()));
  }
  if (!p.mask().empty()) {
    const size_t colon = p.mask().rfind(':');
    double rate = -1;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtod(p.mask().substr(colon + 1), &rate)) {
      return absl::InvalidArgumentError(
          absl::StrCat("mask '", p.mask(), "': expected FEATURE:RATE, e.g. item_age_days:0.3"));
    }
    r.mask_feature = p.mask().substr(0, colon);
    r.mask_rate = rate;
  }
  if (!p.objective().empty()) {
    RECSTACK_ASSIGN_OR_RETURN(r.gbdt.objective, ml::ParseGbdtObjective(p.objective()));
  }
  if (p.rounds() > 0) r.gbdt.rounds = p.rounds();
  if (p.max_depth() > 0) r.gbdt.max_depth = p.max_depth();
  if (p.eta() > 0) r.gbdt.eta = p.eta();
  if (p.seed() > 0) r.gbdt.seed = r.logistic.seed = r.mask_seed = p.seed();
  r.publish = !p.dry_run();
  RECSTACK_RETURN_IF_ERROR(r.Validate());
  spec.ranker = std::move(r);
  return spec;
}

TrainingServiceImpl::TrainingServiceImpl(JobRunner& runner, model::ModelStore& store,
                                         TrainingMetrics& metrics, FeedbackLog* feedback,
                                         std::vector<ranking::Experiment> experiments)
    : runner_(runner), store_(store), metrics_(metrics), feedback_(feedback),
      experiments_(std::move(experiments)) {}

grpc::Status TrainingServiceImpl::StartRankerTraining(grpc::ServerContext*,
                                                      const v1::StartRankerTrainingRequest* req,
                                                      v1::Job* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "StartRankerTraining");
  auto spec = RankerSpecFromProto(req->params());
  absl::StatusOr<JobInfo> job =
      spec.ok() ? runner_.Start(*std::move(spec)) : absl::StatusOr<JobInfo>(spec.status());
  return AnswerJob(timer, job, resp);
}

absl::StatusOr<std::unique_ptr<ranking::Ranker>> TrainingServiceImpl::TargetRanker(
    const std::string& name, std::string* version) {
  if (name.empty()) return absl::InvalidArgumentError("ranker is required");
  auto [base, pinned] = ranking::SplitVersion(name);
  if (auto kind = ranking::ParseLearnedKind(base); kind.ok()) {
    std::string v = pinned;
    if (v.empty()) {
      auto current = store_.CurrentVersion(ranking::SlotOf(*kind));
      if (!current.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("ranker ", base, " has no published model yet"));
      }
      v = *current;
    }
    auto model = ranking::LoadRankerModel(store_, *kind, v);
    if (!model.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("ranker ", name, ": ", model.status().message()));
    }
    *version = v;
    return ranking::MakeLearnedRanker(*std::move(model));
  }
  if (!pinned.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ranker ", name, ": only learned rankers (gbdt, logistic) have versions"));
  }
  return ranking::RankerRegistry::WithBuiltins().Create(base, {});
}

grpc::Status TrainingServiceImpl::EvaluateRanker(grpc::ServerContext*,
                                                 const v1::EvaluateRankerRequest* req,
                                                 v1::EvaluateRankerResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "EvaluateRanker");
  auto run = [&]() -> absl::Status {
    if (req->window_ms() < 0 || req->attribution_ms() < 0)
      return absl::InvalidArgumentError("window and attribution must not be negative");
    const double confidence = req->confidence() == 0 ? 0.95 : req->confidence();
    if (!(confidence > 0 && confidence < 1))
      return absl::InvalidArgumentError("confidence must be in (0, 1)");
    std::string version;
    RECSTACK_ASSIGN_OR_RETURN(auto target, TargetRanker(req->ranker(), &version));
    if (feedback_ == nullptr) return absl::FailedPreconditionError("no feedback log");
    const int64_t window = req->window_ms() > 0 ? req->window_ms() : kDefaultWindowMs;
    const FeedbackView view = feedback_->Snapshot(runner_.NowMs() - window);
    RECSTACK_ASSIGN_OR_RETURN(
        OffPolicyResult r,
        EvaluateOffPolicy(view, *target,
                          req->attribution_ms() > 0 ? req->attribution_ms() : kDefaultAttributionMs,
                          confidence));
    resp->set_ranker(req->ranker());
    resp->set_ranker_version(version);
    resp->set_requests(r.requests);
    resp->set_impressions(r.impressions);
    resp->set_clicks(r.clicks);
    resp->set_logged_ctr(r.logged_ctr);
    for (auto [est, out] :
         {std::pair{&r.ips, resp->mutable_ips()}, std::pair{&r.snips, resp->mutable_snips()}}) {
      out->set_estimate(est->estimate);
      out->set_ci_low(est->ci.lo);
      out->set_ci_high(est->ci.hi);
      out->set_variance(est->variance);
    }
    resp->set_effective_sample_size(r.ips.effective_sample_size);
    resp->set_max_weight(r.ips.max_weight);
    resp->set_explored_share(r.explored_share);
    return absl::OkStatus();
  };
  absl::Status st = run();
  timer.set_code(st.code());
  return ToGrpc(st);
}

grpc::Status TrainingServiceImpl::ExperimentReport(grpc::ServerContext*,
                                                   const v1::ExperimentReportRequest* req,
                                                   v1::ExperimentReportResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "ExperimentReport");
  auto run = [&]() -> absl::Status {
    if (req->experiment().empty()) return absl::InvalidArgumentError("experiment is required");
    if (req->window_ms() < 0 || req->attribution_ms() < 0)
      return absl::InvalidArgumentError("window and attribution must not be negative");
    const ranking::Experiment* exp = nullptr;
    std::string known;
    for (const auto& e : experiments_) {
      absl::StrAppend(&known, known.empty() ? "" : ", ", e.name);
      if (e.name == req->experiment()) exp = &e;
    }
    if (exp == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "unknown experiment '", req->experiment(), "' (known: ",
          known.empty() ? "none; start training with --experiments, the ranking service's file"
                        : known,
          ")"));
    }
    if (feedback_ == nullptr) return absl::FailedPreconditionError("no feedback log");
    const FeedbackView view =
        feedback_->Snapshot(req->window_ms() > 0 ? runner_.NowMs() - req->window_ms() : 0);
    RECSTACK_ASSIGN_OR_RETURN(stats::Readout r,
                              ReportExperiment(view, *exp, req->control(),
                                               req->attribution_ms() > 0 ? req->attribution_ms()
                                                                         : kDefaultAttributionMs));
    ReadoutToProto(r, resp);
    return absl::OkStatus();
  };
  absl::Status st = run();
  timer.set_code(st.code());
  return ToGrpc(st);
}

grpc::Status TrainingServiceImpl::StartTraining(grpc::ServerContext*,
                                                const v1::StartTrainingRequest* req,
                                                v1::Job* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "StartTraining");
  auto spec = SpecFromProto(*req);
  absl::StatusOr<JobInfo> job =
      spec.ok() ? runner_.Start(*std::move(spec)) : absl::StatusOr<JobInfo>(spec.status());
  return AnswerJob(timer, job, resp);
}

grpc::Status TrainingServiceImpl::GetJob(grpc::ServerContext*, const v1::GetJobRequest* req,
                                         v1::Job* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "GetJob");
  auto job = runner_.Get(req->job_id());
  return AnswerJob(timer, job, resp);
}

grpc::Status TrainingServiceImpl::CancelJob(grpc::ServerContext*, const v1::CancelJobRequest* req,
                                            v1::Job* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "CancelJob");
  auto job = runner_.Cancel(req->job_id());
  return AnswerJob(timer, job, resp);
}

grpc::Status TrainingServiceImpl::ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*,
                                           v1::ListJobsResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "ListJobs");
  for (const auto& j : runner_.List()) JobToProto(j, resp->add_jobs());
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::ListModels(grpc::ServerContext*, const v1::ListModelsRequest*,
                                             v1::ListModelsResponse* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "ListModels");
  auto versions = store_.ListVersions();
  timer.set_code(versions.status().code());
  if (!versions.ok()) return ToGrpc(versions.status());
  auto current = store_.CurrentVersion();
  resp->set_current_version(current.ok() ? *current : "");
  // Each slot (factors, EASE, each learned ranker) has its own current version.
  std::map<model::Slot, std::string> current_of;
  for (model::Slot slot : model::kAllSlots) {
    auto v = store_.CurrentVersion(slot);
    if (v.ok()) current_of[slot] = *v;
  }
  for (const auto& m : *versions)
    ModelToProto(m, current_of[model::SlotOf(m.kind)], resp->add_models());
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::PromoteModel(grpc::ServerContext*,
                                               const v1::PromoteModelRequest* req,
                                               v1::ModelInfo* resp) {
  metrics::RpcTimer timer(metrics_.rpc, "PromoteModel");
  absl::Status st = req->version().empty() ? absl::InvalidArgumentError("version is empty")
                                           : store_.Promote(req->version());
  absl::StatusOr<model::ModelMeta> meta =
      st.ok() ? store_.GetMeta(req->version()) : absl::StatusOr<model::ModelMeta>(st);
  timer.set_code(meta.status().code());
  if (!meta.ok()) return ToGrpc(meta.status());
  ModelToProto(*meta, meta->version, resp);
  return grpc::Status::OK;
}

}  // namespace recstack::training
