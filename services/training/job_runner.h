#pragma once

// Training jobs (DESIGN §4): one runs at a time on the runner's own thread;
// a second StartTraining while one is active is refused with
// RESOURCE_EXHAUSTED. A consumer thread keeps the event log's snapshot
// within `consume_interval` of the stream, so StartTraining returns a job id
// at once; the job itself catches up with the stream, trains (evaluating on the
// params' split, default a stratified 80/20 holdout), refits on all data
// when a split was used, and publishes the model through ModelStore. The
// optional scheduler starts a job every `retrain_interval` when new events
// arrived.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/mf/trainer.h"
#include "common/model/model_store.h"
#include "services/training/event_log.h"
#include "services/training/feedback_loop.h"

namespace recstack::training {

enum class JobState { kPending, kLoading, kRunning, kPublishing, kSucceeded, kFailed, kCancelled };
std::string JobStateName(JobState s);

// The kind of model a fit of `algorithm` is published as: the one mapping
// from the trainer's algorithms (how a model is fitted) to the model store's
// kinds (what is served). sgd-explicit fits the same biased model as
// als-explicit and is stored, served and reported as that kind.
model::ModelKind StoredKind(mf::Algorithm algorithm);

struct JobSpec {
  // Set: a learned-ranker job on the feedback log (the rest is unused).
  std::optional<RankerJobSpec> ranker;
  mf::TrainConfig config;
  std::string split = "stratified:0.8";  // "none": no evaluation
  std::map<std::string, double> event_weights = mf::DefaultEventWeights();
  bool publish = true;
};

struct JobInfo {
  std::string id;
  JobState state = JobState::kPending;
  JobSpec spec;
  int iteration = 0;
  double loss = 0;
  std::map<std::string, double> metrics;
  std::vector<mf::IterationReport> history;
  std::map<std::string, double> timings;  // load, train, refit, publish (seconds)
  std::string model_version;
  std::string error;
  int64_t created_at_ms = 0, finished_at_ms = 0;
  int64_t n_users = 0, n_items = 0, n_interactions = 0;
  // Ranker jobs: logged rows used, their clicks, and `linear` on the same
  // held-out rows.
  int64_t rows = 0, positives = 0;
  std::map<std::string, double> baseline_metrics;
};

// Hooks for the service's metrics.
struct JobObserver {
  std::function<void(const mf::IterationReport&)> on_iteration;
  std::function<void(const JobInfo&)> on_finished;
  std::function<void(int64_t)> on_events_consumed;
};

struct RunnerOptions {
  model::PublishOptions publish;
  std::chrono::milliseconds retrain_interval{0};  // 0 = no schedule
  JobSpec scheduled_spec;                         // what scheduled jobs run
  size_t keep_jobs = 50;                          // finished jobs remembered
  // The background consumer's pause between syncs of the stream (0: no
  // consumer; jobs still sync before they train).
  std::chrono::milliseconds consume_interval{1000};
};

// A ranker job's knobs as text, for the published model's meta.
std::map<std::string, std::string> RankerParamsText(const RankerJobSpec& spec);

class JobRunner {
 public:
  JobRunner(EventLog& log, model::ModelStore& store, const Clock& clock, RunnerOptions options,
            JobObserver observer = {});
  ~JobRunner();

  // INVALID_ARGUMENT for bad params, FAILED_PRECONDITION with no events,
  // RESOURCE_EXHAUSTED while another job is active.
  absl::StatusOr<JobInfo> Start(JobSpec spec);
  absl::StatusOr<JobInfo> Get(const std::string& id) const;
  absl::StatusOr<JobInfo> Cancel(const std::string& id);
  std::vector<JobInfo> List() const;  // newest first
  int64_t NowMs() const { return clock_.NowMs(); }
  // Blocks until the job is finished or `timeout` passes (tests, CLI).
  absl::StatusOr<JobInfo> Wait(const std::string& id, std::chrono::milliseconds timeout) const;

 private:
  void Run(std::shared_ptr<JobInfo> job);
  void RunRanker(const std::shared_ptr<JobInfo>& job);
  // Marks the job failed (or cancelled) with `error`.
  void Fail(const std::shared_ptr<JobInfo>& job, JobState state, const std::string& error);
  void Schedule();
  void Consume();
  // One sync of the event log, counted for the observer.
  absl::StatusOr<int64_t> SyncLog();
  void Update(const std::function<void(JobInfo&)>& fn, const std::shared_ptr<JobInfo>& job);

  EventLog& log_;
  model::ModelStore& store_;
  const Clock& clock_;
  RunnerOptions options_;
  JobObserver observer_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::shared_ptr<JobInfo>> jobs_;  // oldest first
  std::shared_ptr<JobInfo> active_;
  std::atomic<bool> cancel_{false};
  bool stopping_ = false;
  int64_t next_id_ = 1;
  std::atomic<int64_t> events_at_last_job_{-1};
  std::thread worker_, scheduler_, consumer_;
};

}  // namespace recstack::training
