#include "services/training/job_runner.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/mf/dataset.h"
#include "common/mf/ease.h"

namespace recstack::training {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

bool Finished(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled;
}

model::ModelData ToModelData(const mf::TrainResult& res, const mf::Dataset& data,
                             const JobSpec& spec) {
  model::ModelData m;
  const mf::TrainedModel& t = res.model;
  if (t.algorithm == mf::Algorithm::kEase) {
    // The published part of B (common/mf/ease.h, PublishedNeighbours), in
    // the EASE slot; its importance is measured on the rows it was fit on.
    mf::EaseParams e = spec.config.ease;
    e.threads = spec.config.als.threads;
    e.seed = spec.config.als.seed;  // the importance's user sample
    const mf::InteractionMatrix x =
        mf::BuildMatrix(data.users.size(), data.items.size(), data.rows, /*sum_duplicates=*/true);
    mf::EaseNeighbours nb = mf::PublishedNeighbours(t.ease_weights, x.by_user, e);
    m.meta.kind = StoredKind(t.algorithm);
    m.meta.neighbours = std::max(nb.MostPerRow(), 1);
    m.meta.regularization = e.lambda;
    m.meta.params = {{"regularization", absl::StrCat(e.lambda)},
                     {"values", e.binarize ? "binary" : "value"},
                     {"top_n", std::to_string(e.top_n)},
                     {"truncation", mf::TruncationName(e.truncation)},
                     {"split", spec.split}};
    m.item_ids = data.items.names();
    m.neighbour_indptr = std::move(nb.indptr);
    m.neighbour_ids = std::move(nb.ids);
    m.neighbour_weights = std::move(nb.weights);
    return m;
  }
  m.meta.kind = StoredKind(t.algorithm);
  m.meta.factors = static_cast<int32_t>(t.item_factors.cols());
  m.meta.has_biases = mf::IsExplicit(t.algorithm);
  m.meta.global_mean = t.global_mean;
  m.meta.regularization = spec.config.als.regularization;
  m.meta.alpha = spec.config.als.alpha;
  const mf::AlsParams& p = spec.config.als;
  m.meta.params = {
      {"factors", std::to_string(p.factors)},
      {"iterations", std::to_string(p.iterations)},
      {"regularization", absl::StrCat(p.regularization)},
      {"alpha", absl::StrCat(p.alpha)},
      {"cg_steps", std::to_string(p.cg_steps)},
      {"confidence", p.confidence == mf::Confidence::kValue ? "value" : "one-plus-alpha"},
      {"split", spec.split}};
  if (t.algorithm == mf::Algorithm::kSgdExplicit) {
    const mf::SgdParams& s = spec.config.sgd;
    m.meta.params.erase("alpha");
    m.meta.params.erase("cg_steps");
    m.meta.params.erase("confidence");
    m.meta.params["trainer"] = "sgd-explicit";
    m.meta.params["optimizer"] = mf::OptimizerName(s.optimizer);
    m.meta.params["learning_rate"] = absl::StrCat(s.LearningRate());
    m.meta.params["batch_size"] = std::to_string(s.batch_size);
  }
  m.user_ids = data.users.names();
  m.item_ids = data.items.names();
  m.user_factors.assign(t.user_factors.data(), t.user_factors.data() + t.user_factors.size());
  m.item_factors.assign(t.item_factors.data(), t.item_factors.data() + t.item_factors.size());
  m.user_biases = t.user_bias;
  m.item_biases = t.item_bias;
  return m;
}

}  // namespace

model::ModelKind StoredKind(mf::Algorithm algorithm) {
  switch (algorithm) {
    case mf::Algorithm::kExplicitAls:
    case mf::Algorithm::kSgdExplicit:
      return model::ModelKind::kExplicitAls;
    case mf::Algorithm::kEase:
      return model::ModelKind::kEase;
    case mf::Algorithm::kImplicitAls:
      break;
  }
  return model::ModelKind::kImplicitAls;
}

std::map<std::string, std::string> RankerParamsText(const RankerJobSpec& s) {
  std::map<std::string, std::string> p = {
      {"model", ranking::LearnedKindName(s.kind)},
      {"window_ms", std::to_string(s.window_ms)},
      {"attribution_ms", std::to_string(s.attribution_ms)},
      {"holdout", absl::StrCat(s.holdout)},
      {"position", s.position == PositionMode::kIps ? "ips" : "feature"},
      {"feature_schema", std::to_string(ranking::kFeatureSchema)}};
  if (!s.mask_feature.empty()) p["mask"] = absl::StrCat(s.mask_feature, ":", s.mask_rate);
  if (s.kind == ranking::LearnedKind::kLogistic) {
    const ml::LogisticParams& l = s.logistic;
    p["optimizer"] = std::string(ml::OptimizerName(l.optimizer));
    p["learning_rate"] = absl::StrCat(l.learning_rate);
    p["epochs"] = std::to_string(l.epochs);
    p["batch_size"] = std::to_string(l.batch_size);
    p["regularization"] = absl::StrCat(l.l2);
    p["standardize"] = l.standardize ? "true" : "false";
    p["missing"] = std::string(ml::MissingPolicyName(l.missing));
  } else {
    const ml::GbdtParams& g = s.gbdt;
    p["objective"] = std::string(ml::GbdtObjectiveName(g.objective));
    p["rounds"] = std::to_string(g.rounds);
    p["max_depth"] = std::to_string(g.max_depth);
    p["eta"] = absl::StrCat(g.eta);
  }
  return p;
}

std::string JobStateName(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "PENDING";
    case JobState::kLoading:
      return "LOADING";
    case JobState::kRunning:
      return "RUNNING";
    case JobState::kPublishing:
      return "PUBLISHING";
    case JobState::kSucceeded:
      return "SUCCEEDED";
    case JobState::kFailed:
      return "FAILED";
    case JobState::kCancelled:
      return "CANCELLED";
  }
  return "PENDING";
}

JobRunner::JobRunner(EventLog& log, model::ModelStore& store, const Clock& clock,
                     RunnerOptions options, JobObserver observer)
    : log_(log), store_(store), clock_(clock), options_(std::move(options)),
      observer_(std::move(observer)) {
  if (options_.retrain_interval.count() > 0) scheduler_ = std::thread([this] { Schedule(); });
  if (options_.consume_interval.count() > 0) consumer_ = std::thread([this] { Consume(); });
}

absl::StatusOr<int64_t> JobRunner::SyncLog() {
  auto added = log_.Sync();
  if (added.ok() && *added > 0 && observer_.on_events_consumed)
    observer_.on_events_consumed(*added);
  return added;
}

void JobRunner::Consume() {
  std::unique_lock<std::mutex> lock(mu_);
  std::string last_error;
  while (!stopping_) {
    lock.unlock();
    auto added = SyncLog();
    if (!added.ok() && std::string(added.status().message()) != last_error) {
      last_error = std::string(added.status().message());
      log::Warn("consuming the event stream failed", {{"error", last_error}});
    } else if (added.ok()) {
      last_error.clear();
    }
    lock.lock();
    cv_.wait_for(lock, options_.consume_interval, [this] { return stopping_; });
  }
}

JobRunner::~JobRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cancel_ = true;
  cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  if (consumer_.joinable()) consumer_.join();
  if (worker_.joinable()) worker_.join();
}

absl::StatusOr<JobInfo> JobRunner::Start(JobSpec spec) {
  if (spec.ranker.has_value()) {
    if (absl::Status st = spec.ranker->Validate(); !st.ok()) return st;
    // Impressions not yet read from the stream are the job's to catch up
    // with; none anywhere is the caller's mistake.
    if (log_.feedback() == nullptr) {
      return absl::FailedPreconditionError("this training service keeps no feedback log");
    }
    if (log_.feedback()->impressions() == 0) {
      auto pending = log_.StreamLength();
      if (!pending.ok())
        return absl::UnavailableError(absl::StrCat("reading events: ", pending.status().message()));
      if (*pending == 0 || log_.size() == *pending) {
        return absl::FailedPreconditionError(
            "no impressions are logged yet: serve Recommends through the gateway (with "
            "--log-impressions) and send clicks with their request_id first");
      }
    }
  } else {
    if (absl::Status st = spec.config.Validate(); !st.ok()) return st;
    auto split = mf::ParseSplit(spec.split);
    if (!split.ok()) return split.status();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (active_ != nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("job ", active_->id, " is still ",
                                                     JobStateName(active_->state),
                                                     "; one training runs at a time"));
  }
  lock.unlock();
  // Fail fast, on the caller's request, when there is nothing to train on;
  // (a ranker job checked its feedback log above)
  // O(1): the snapshot's size, else the stream's length. Catching up with
  // the stream is the job's work, not the RPC's.
  if (log_.size() == 0) {
    auto pending = log_.StreamLength();
    if (!pending.ok())
      return absl::UnavailableError(absl::StrCat("reading events: ", pending.status().message()));
    if (*pending == 0)
      return absl::FailedPreconditionError("no events to train on yet: ingest some first");
  }
  lock.lock();
  if (active_ != nullptr) return absl::ResourceExhaustedError("another job started meanwhile");
  auto job = std::make_shared<JobInfo>();
  job->id = absl::StrCat("job-", next_id_++);
  job->spec = std::move(spec);
  job->created_at_ms = clock_.NowMs();
  jobs_.push_back(job);
  while (jobs_.size() > options_.keep_jobs && Finished(jobs_.front()->state))
    jobs_.erase(jobs_.begin());
  active_ = job;
  cancel_ = false;
  events_at_last_job_ = log_.size();
  if (worker_.joinable()) worker_.join();  // the previous job's thread has finished
  worker_ = std::thread([this, job] { Run(job); });
  return *job;
}

void JobRunner::Update(const std::function<void(JobInfo&)>& fn,
                       const std::shared_ptr<JobInfo>& job) {
  std::lock_guard<std::mutex> lock(mu_);
  fn(*job);
  cv_.notify_all();
}

void JobRunner::Fail(const std::shared_ptr<JobInfo>& job, JobState state,
                     const std::string& error) {
  Update(
      [&](JobInfo& j) {
        j.state = state;
        j.error = error;
        j.finished_at_ms = clock_.NowMs();
      },
      job);
  log::Warn("training job ended",
            {{"job", job->id}, {"state", JobStateName(state)}, {"error", error}});
}

void JobRunner::RunRanker(const std::shared_ptr<JobInfo>& job) {
  const RankerJobSpec& spec = *job->spec.ranker;
  Update([](JobInfo& j) { j.state = JobState::kLoading; }, job);
  auto t0 = std::chrono::steady_clock::now();
  auto synced = SyncLog();
  if (!synced.ok()) {
    Fail(job, JobState::kFailed, absl::StrCat("reading events: ", synced.status().message()));
    return;
  }
  const FeedbackView view = log_.feedback()->Snapshot(clock_.NowMs() - spec.window_ms);
  Update(
      [&](JobInfo& j) {
        j.state = JobState::kRunning;
        j.timings["load"] = Since(t0);
      },
      job);
  auto t1 = std::chrono::steady_clock::now();
  auto out = TrainRanker(view, spec, [this] { return cancel_.load(); });
  if (!out.ok()) {
    Fail(job, absl::IsCancelled(out.status()) ? JobState::kCancelled : JobState::kFailed,
         std::string(out.status().message()));
    return;
  }
  Update(
      [&](JobInfo& j) {
        j.timings["train"] = Since(t1);
        j.metrics = out->metrics;
        j.baseline_metrics = out->baseline;
        j.history = out->history;
        j.iteration = static_cast<int>(out->history.size());
        j.loss = out->history.empty() ? 0 : out->history.back().loss;
        j.rows = out->rows;
        j.positives = out->positives;
        j.n_interactions = out->rows;
      },
      job);
  if (cancel_) {
    Fail(job, JobState::kCancelled, "cancelled");
    return;
  }
  if (spec.publish) {
    Update([](JobInfo& j) { j.state = JobState::kPublishing; }, job);
    auto t2 = std::chrono::steady_clock::now();
    model::ModelData md;
    md.meta.kind = ranking::ModelKindOf(spec.kind);
    md.meta.params = RankerParamsText(spec);
    md.meta.metrics = out->metrics;
    for (const auto& [k, v] : out->baseline) md.meta.metrics["baseline_" + k] = v;
    md.meta.metrics["rows"] = static_cast<double>(out->rows);
    md.meta.metrics["positives"] = static_cast<double>(out->positives);
    md.blob = std::move(out->blob);
    auto meta = store_.Publish(md, options_.publish);
    if (!meta.ok()) {
      Fail(job, JobState::kFailed, absl::StrCat("publishing: ", meta.status().message()));
      return;
    }
    Update(
        [&](JobInfo& j) {
          j.timings["publish"] = Since(t2);
          j.model_version = meta->version;
        },
        job);
    log::Info("ranker published", {{"job", job->id},
                                   {"model", ranking::LearnedKindName(spec.kind)},
                                   {"version", meta->version},
                                   {"rows", out->rows}});
  }
  Update(
      [&](JobInfo& j) {
        j.state = JobState::kSucceeded;
        j.finished_at_ms = clock_.NowMs();
      },
      job);
}

void JobRunner::Run(std::shared_ptr<JobInfo> job) {
  if (job->spec.ranker.has_value()) {
    RunRanker(job);
    JobInfo final_info;
    {
      std::lock_guard<std::mutex> lock(mu_);
      final_info = *job;
      active_.reset();
      cv_.notify_all();
    }
    if (observer_.on_finished) observer_.on_finished(final_info);
    return;
  }
  const JobSpec spec = job->spec;
  Update([](JobInfo& j) { j.state = JobState::kLoading; }, job);
  auto t0 = std::chrono::steady_clock::now();
  // Everything in the stream up to now (the consumer keeps this short).
  auto synced = SyncLog();
  const bool explicit_ratings = mf::IsExplicit(spec.config.algorithm);
  mf::Dataset data;
  if (synced.ok()) data = log_.BuildDataset(explicit_ratings, spec.event_weights);
  if (!synced.ok()) {
    Fail(job, JobState::kFailed, absl::StrCat("reading events: ", synced.status().message()));
  } else if (data.rows.empty()) {
    Fail(job, JobState::kFailed,
         explicit_ratings ? "no RATING events to train on" : "no weighted events to train on");
  } else {
    std::vector<mf::Row> train, test;
    absl::Status st =
        mf::Split(data, *mf::ParseSplit(spec.split), spec.config.als.seed, &train, &test);
    const double load_s = Since(t0);
    Update(
        [&](JobInfo& j) {
          j.state = JobState::kRunning;
          j.timings["load"] = load_s;
          j.n_users = data.users.size();
          j.n_items = data.items.size();
          j.n_interactions = static_cast<int64_t>(data.rows.size());
        },
        job);
    auto progress = [&](const mf::IterationReport& r) {
      Update(
          [&](JobInfo& j) {
            j.iteration = r.iteration;
            j.loss = r.loss;
            j.history.push_back(r);
          },
          job);
      if (observer_.on_iteration) observer_.on_iteration(r);
      return !cancel_.load();
    };
    auto t1 = std::chrono::steady_clock::now();
    absl::StatusOr<mf::TrainResult> res =
        st.ok() ? mf::Train(data.users.size(), data.items.size(), std::move(train), test,
                            spec.config, progress)
                : absl::StatusOr<mf::TrainResult>(st);
    if (!res.ok()) {
      Fail(job, JobState::kFailed, std::string(res.status().message()));
    } else if (res->cancelled || cancel_) {
      Fail(job, JobState::kCancelled, "cancelled");
    } else {
      std::map<std::string, double> metrics = res->metrics;
      Update(
          [&](JobInfo& j) {
            j.metrics = metrics;
            j.timings["train"] = Since(t1);
          },
          job);
      // With a holdout, the served model is refit on every row.
      if (!test.empty()) {
        auto t2 = std::chrono::steady_clock::now();
        mf::TrainConfig refit = spec.config;
        refit.evaluate_each_iteration = false;
        refit.early_stopping_metric.clear();
        if (res->best_iteration > 0) refit.als.iterations = res->best_iteration;
        res = mf::Train(data.users.size(), data.items.size(), data.rows, {}, refit,
                        [&](const mf::IterationReport&) { return !cancel_.load(); });
        Update([&](JobInfo& j) { j.timings["refit"] = Since(t2); }, job);
      }
      if (!res.ok()) {
        Fail(job, JobState::kFailed, std::string(res.status().message()));
      } else if (cancel_ || res->cancelled) {
        Fail(job, JobState::kCancelled, "cancelled");
      } else if (!spec.publish) {
        Update(
            [&](JobInfo& j) {
              j.state = JobState::kSucceeded;
              j.finished_at_ms = clock_.NowMs();
            },
            job);
      } else {
        Update([](JobInfo& j) { j.state = JobState::kPublishing; }, job);
        auto t3 = std::chrono::steady_clock::now();
        model::ModelData md = ToModelData(*res, data, spec);
        md.meta.metrics = metrics;
        auto meta = store_.Publish(md, options_.publish);
        if (!meta.ok()) {
          Fail(job, JobState::kFailed, absl::StrCat("publishing: ", meta.status().message()));
        } else {
          Update(
              [&](JobInfo& j) {
                j.timings["publish"] = Since(t3);
                j.model_version = meta->version;
                j.state = JobState::kSucceeded;
                j.finished_at_ms = clock_.NowMs();
              },
              job);
          log::Info("model published", {{"job", job->id},
                                        {"version", meta->version},
                                        {"users", meta->n_users},
                                        {"items", meta->n_items}});
        }
      }
    }
  }
  JobInfo final_info;
  {
    std::lock_guard<std::mutex> lock(mu_);
    final_info = *job;
    active_.reset();
    cv_.notify_all();
  }
  if (observer_.on_finished) observer_.on_finished(final_info);
}

absl::StatusOr<JobInfo> JobRunner::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& j : jobs_) {
    if (j->id == id) return *j;
  }
  return absl::NotFoundError(absl::StrCat("no job ", id));
}

absl::StatusOr<JobInfo> JobRunner::Cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& j : jobs_) {
    if (j->id != id) continue;
    if (Finished(j->state)) {
      return absl::FailedPreconditionError(
          absl::StrCat("job ", id, " already ", JobStateName(j->state)));
    }
    cancel_ = true;
    return *j;
  }
  return absl::NotFoundError(absl::StrCat("no job ", id));
}

std::vector<JobInfo> JobRunner::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<JobInfo> out;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) out.push_back(**it);
  return out;
}

absl::StatusOr<JobInfo> JobRunner::Wait(const std::string& id,
                                        std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  std::shared_ptr<JobInfo> job;
  for (const auto& j : jobs_) {
    if (j->id == id) job = j;
  }
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job ", id));
  if (!cv_.wait_for(lock, timeout, [&] { return Finished(job->state) && active_ != job; })) {
    return absl::DeadlineExceededError(
        absl::StrCat("job ", id, " still ", JobStateName(job->state)));
  }
  return *job;
}

void JobRunner::Schedule() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.retrain_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    auto added = SyncLog();
    const bool fresh = log_.size() > 0 && log_.size() != events_at_last_job_;
    if (fresh) {
      auto job = Start(options_.scheduled_spec);
      if (job.ok()) log::Info("scheduled retraining", {{"job", job->id}});
    }
    lock.lock();
  }
}

}  // namespace recstack::training
