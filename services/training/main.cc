// recstack-training: ALS training jobs over the event stream, publishing
// model versions to Redis (DESIGN §3-§4).
#include <unistd.h>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/config/config.h"
#include "common/grpc/service_main.h"
#include "common/log/log.h"
#include "common/math/blas_core.h"
#include "services/training/training_service.h"

int main(int argc, char** argv) {
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  using namespace recstack;
  grpcutil::BlockShutdownSignals();
  CLI::App app{
      "recstack-training: trains ALS models on the event stream and publishes them to Redis"};
  config::ServiceConfig cfg{.service = "training"};
  config::AddServiceFlags(app, &cfg);
  std::string state_dir = ".stack/training", retrain = "0", consumer = "trainer-1";
  int keep_versions = 3;
  app.add_option("--state-dir", state_dir, "where the event snapshot lives")
      ->envname(config::EnvName("state-dir"))
      ->capture_default_str();
  app.add_option("--retrain-interval", retrain,
                 "retrain on new events every interval (e.g. 10m); 0 = never")
      ->envname(config::EnvName("retrain-interval"))
      ->capture_default_str();
  app.add_option("--keep-versions", keep_versions, "model versions kept in Redis")
      ->envname(config::EnvName("keep-versions"))
      ->capture_default_str();
  app.add_option("--consumer-name", consumer, "consumer name in the rs:events group")
      ->envname(config::EnvName("consumer-name"))
      ->capture_default_str();
  std::string feedback_retention = "7d";
  app.add_option("--feedback-retention", feedback_retention,
                 "impressions (and their clicks) the feedback log keeps, counted back from the "
                 "newest event: ranker jobs and experiment reports see at most this far; 0 = "
                 "everything, for ever")
      ->envname(config::EnvName("feedback-retention"))
      ->capture_default_str();
  std::string experiments_file;
  app.add_option("--experiments", experiments_file,
                 "the ranking service's experiments JSON, for experiment reports")
      ->envname(config::EnvName("experiments"));
  if (int code = config::ParseOrExit(app, argc, argv); code >= 0) return code;
  absl::Status st = config::Validate(cfg);
  auto interval = config::ParseDuration(retrain);
  if (st.ok() && !interval.ok())
    st = absl::InvalidArgumentError(
        absl::StrCat("--retrain-interval: ", interval.status().message()));
  auto retention = config::ParseDuration(feedback_retention);
  if (st.ok() && !retention.ok())
    st = absl::InvalidArgumentError(
        absl::StrCat("--feedback-retention: ", retention.status().message()));
  if (st.ok() && (keep_versions < 1 || keep_versions > 100))
    st = absl::InvalidArgumentError("--keep-versions: must be 1-100");
  std::vector<ranking::Experiment> experiments;
  if (st.ok() && !experiments_file.empty()) {
    std::ifstream in(experiments_file);
    std::stringstream ss;
    ss << in.rdbuf();
    // Rankers are the ranking service's to check; here names suffice.
    auto parsed = ranking::ParseExperiments(ss.str());
    if (!in) st = absl::InvalidArgumentError("--experiments: cannot read " + experiments_file);
    else if (!parsed.ok())
      st = absl::InvalidArgumentError("--experiments: " + std::string(parsed.status().message()));
    else experiments = *std::move(parsed);
  }
  if (!st.ok()) return grpcutil::Fail("training", st, 2);
  log::Init("training", cfg.log_level);
  auto redis_opts = redis::ParseUrl(cfg.redis_url);
  // Publishing pipelines large values: allow more time per command.
  redis_opts->command_timeout = std::chrono::milliseconds(30000);
  redis::Pool pool(*redis_opts, cfg.redis_pool_size);
  redis::Keyspace keys = config::KeyspaceFor(cfg);
  SystemClock clock;
  training::EventLog event_log(pool, keys, state_dir, "training", consumer);
  training::FeedbackLog feedback(state_dir, {.window_ms = retention->count()});
  if (absl::Status open = feedback.Open(); !open.ok()) return grpcutil::Fail("training", open, 1);
  auto registry = std::make_shared<prometheus::Registry>();
  training::TrainingMetrics metrics(*registry);
  metrics.ObserveFeedback(feedback.stats());
  feedback.set_observer(
      [&metrics](const training::FeedbackStats& s) { metrics.ObserveFeedback(s); });
  event_log.set_feedback(&feedback);
  if (absl::Status open = event_log.Open(); !open.ok()) return grpcutil::Fail("training", open, 1);
  model::ModelStore store(pool, keys);
  training::RunnerOptions ropts;
  ropts.publish.keep_versions = keep_versions;
  ropts.retrain_interval = *interval;
  training::JobRunner runner(event_log, store, clock, ropts, training::MetricsObserver(metrics));
  training::TrainingServiceImpl service(runner, store, metrics, &feedback, experiments);
  return grpcutil::Serve(cfg, registry,
                         {.services = {&service},
                          .readiness_redis = *redis_opts,
                          .started_fields = {{"state_dir", state_dir},
                                             {"snapshot_events", event_log.size()},
                                             {"feedback_impressions", feedback.impressions()},
                                             {"feedback_retention", feedback_retention},
                                             {"experiments", experiments.size()}}});
}
