// The feedback loop over real parts: impressions and clicks in a real Redis
// stream (as the gateway and the load generator write them through
// ingestion), the training service over real gRPC training a ranker and
// publishing it, the ranking side's model holder following the slot, a
// corrupt version refused while the previous one serves, a roll-back, and
// the readout of an experiment.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/grpc/channel.h"
#include "common/math/rng.h"
#include "common/rank/experiments.h"
#include "common/rank/features.h"
#include "common/rank/learned.h"
#include "recstack/v1/training.grpc.pb.h"
#include "services/training/training_service.h"
#include "tests/integration/training/wait_job.h"
#include "tests/support/grpc/in_process_server.h"
#include "tests/support/redis/redis_server.h"

namespace recstack::training {
namespace {

using namespace std::chrono_literals;

// `requests` logged answers of k items: quality q drives clicks
// (sigmoid(-1 + 2q), examined with 1/(position+1)); `popularity` carries q.
// Users alternate between the experiment's two variants.
void AddFeedback(redis::Pool& pool, int requests, uint64_t seed) {
  math::Rng rng(seed);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count() -
                      60'000;
  std::vector<std::vector<std::string>> cmds;
  constexpr int k = 8;
  for (int r = 0; r < requests; ++r) {
    const std::string request = "req" + std::to_string(seed) + "-" + std::to_string(r);
    const std::string user = "u" + std::to_string(r % 200);
    const bool treated = (r % 200) % 2 == 1;
    for (int p = 0; p < k; ++p) {
      const double q = rng.Normal();
      std::vector<float> f(ranking::kNumFeatures, 0.0f);
      f[ranking::kPopularity] = static_cast<float>(q + 0.3 * rng.Normal());
      f[ranking::kRetrievalScore] = static_cast<float>(rng.Uniform());
      f[ranking::kSourceMf] = 1;
      f[ranking::kRetrievalPosition] = static_cast<float>(p);
      const std::string item = "i" + std::to_string(rng.Below(5000));
      nlohmann::json ctx = {{"request_id", request},
                            {"position", std::to_string(p)},
                            {"ranker", treated ? "gbdt" : "linear"},
                            {"experiment", "rank-ab"},
                            {"variant", treated ? "treatment" : "control"},
                            {"propensity", "1"},
                            {"features", ranking::EncodeFeatures(f)},
                            {"feature_schema", std::to_string(ranking::kFeatureSchema)}};
      const int64_t ts = now + r;
      cmds.push_back({"XADD", "rs:events", "*", "user", user, "item", item, "type", "IMPRESSION",
                      "value", "0", "ts", std::to_string(ts), "ctx", ctx.dump()});
      const double pclick = 1 / (1 + std::exp(1 - 2 * q)) / (p + 1);
      if (rng.Uniform() < pclick) {
        nlohmann::json cctx = {{"request_id", request}, {"position", std::to_string(p)}};
        cmds.push_back({"XADD", "rs:events", "*", "user", user, "item", item, "type", "CLICK",
                        "value", "0", "ts", std::to_string(ts + 2000), "ctx", cctx.dump()});
      }
    }
  }
  ASSERT_TRUE(pool.Pipeline(cmds).ok());
}

class RankerLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("recstack-loop-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    pool_ = std::make_unique<redis::Pool>(redis_.options(), 4);
    Boot();
  }
  void TearDown() override {
    Shutdown();
    std::filesystem::remove_all(dir_);
  }
  void Boot() {
    feedback_ = std::make_unique<FeedbackLog>(dir_);
    ASSERT_TRUE(feedback_->Open().ok());
    log_ = std::make_unique<EventLog>(*pool_, redis::Keyspace(), dir_);
    log_->set_feedback(feedback_.get());
    ASSERT_TRUE(log_->Open().ok());
    store_ = std::make_unique<model::ModelStore>(*pool_, redis::Keyspace());
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<TrainingMetrics>(*registry_);
    RunnerOptions ro;
    ro.consume_interval = 0ms;
    runner_ = std::make_unique<JobRunner>(*log_, *store_, clock_, ro, MetricsObserver(*metrics_));
    auto exps =
        ranking::ParseExperiments(R"({"experiments":[{"name":"rank-ab","variants":[)"
                                  R"({"name":"control","ranker":"linear","traffic":0.5},)"
                                  R"({"name":"treatment","ranker":"gbdt","traffic":0.5}]}]})");
    ASSERT_TRUE(exps.ok());
    service_ =
        std::make_unique<TrainingServiceImpl>(*runner_, *store_, *metrics_, feedback_.get(), *exps);
    server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{service_.get()});
    stub_ = v1::TrainingService::NewStub(server_->channel());
  }
  void Shutdown() {
    server_.reset();
    service_.reset();
    runner_.reset();
    log_.reset();
    feedback_.reset();
  }
  grpc::Status Train(const std::string& model, v1::Job* job, int rounds = 30) {
    v1::StartRankerTrainingRequest req;
    req.mutable_params()->set_model(model);
    req.mutable_params()->set_rounds(rounds);
    req.mutable_params()->set_epochs(5);
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, 10s);
    return stub_->StartRankerTraining(&ctx, req, job);
  }
  v1::Job WaitDone(const std::string& id) { return recstack::testing::WaitJob(*stub_, id, 1200); }
  v1::Job TrainDone(const std::string& model) {
    v1::Job job;
    grpc::Status st = Train(model, &job);
    EXPECT_TRUE(st.ok()) << st.error_message();
    job = WaitDone(job.job_id());
    EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.error();
    return job;
  }
  // Waits until `models` serves `version` of `kind` (pub/sub or the poll).
  static bool Serves(ranking::RankerModels& models, ranking::LearnedKind kind,
                     const std::string& version) {
    for (int i = 0; i < 200; ++i) {
      auto m = models.Get(kind, "");
      if (m.ok() && (*m)->version() == version) return true;
      std::this_thread::sleep_for(25ms);
    }
    return false;
  }

  testing::RedisServer redis_;
  SystemClock clock_;
  std::string dir_;
  std::unique_ptr<redis::Pool> pool_;
  std::unique_ptr<FeedbackLog> feedback_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<model::ModelStore> store_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<TrainingMetrics> metrics_;
  std::unique_ptr<JobRunner> runner_;
  std::unique_ptr<TrainingServiceImpl> service_;
  std::unique_ptr<testing::InProcessServer> server_;
  std::unique_ptr<v1::TrainingService::Stub> stub_;
};

TEST_F(RankerLoopTest, TrainsPublishesAndRankingFollowsRefusesCorruptAndRollsBack) {
  AddFeedback(*pool_, 1500, 1);
  ranking::RankerModels models(*store_, redis_.options(), redis::Keyspace(), 100ms);
  models.Start();
  auto registry = ranking::RankerRegistry::WithBuiltins();
  ranking::RegisterLearned(registry, models);
  // Nothing published: the ranker cannot serve, and an experiment naming it
  // is refused.
  EXPECT_EQ(registry.Create("gbdt", {}).status().code(), absl::StatusCode::kNotFound);
  auto refused = ranking::ParseExperiments(
      R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"gbdt","traffic":1}]}]})",
      ranking::RegistryCheck(registry));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(std::string(refused.status().message()).find("not published"), std::string::npos);

  const v1::Job first = TrainDone("gbdt");
  EXPECT_EQ(first.algorithm(), v1::RANKER_GBDT);
  EXPECT_EQ(first.rows(), 1500 * 8);
  EXPECT_GT(first.positives(), 100);
  EXPECT_GT(first.metrics().at("auc"), 0.6);
  EXPECT_TRUE(first.baseline_metrics().contains("auc"));
  EXPECT_FALSE(first.model_version().empty());
  ASSERT_TRUE(Serves(models, ranking::LearnedKind::kGbdt, first.model_version()));
  ASSERT_TRUE(registry.Create("gbdt", {}).ok());
  ASSERT_TRUE(registry.Create("gbdt@" + first.model_version(), {}).ok());
  auto accepted = ranking::ParseExperiments(
      R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"gbdt","traffic":1}]}]})",
      ranking::RegistryCheck(registry));
  EXPECT_TRUE(accepted.ok()) << accepted.status();

  // A second version is followed (hot swap).
  const v1::Job second = TrainDone("gbdt");
  ASSERT_NE(second.model_version(), first.model_version());
  ASSERT_TRUE(Serves(models, ranking::LearnedKind::kGbdt, second.model_version()));

  // A corrupt version is published: it is refused, the previous one serves.
  model::ModelData bad;
  bad.meta.kind = model::ModelKind::kRankerGbdt;
  bad.blob = "RSGB this is not a model";
  auto bad_meta = store_->Publish(bad, {});
  ASSERT_TRUE(bad_meta.ok()) << bad_meta.status();
  std::this_thread::sleep_for(400ms);
  auto serving = models.Get(ranking::LearnedKind::kGbdt, "");
  ASSERT_TRUE(serving.ok());
  EXPECT_EQ((*serving)->version(), second.model_version());
  // Pinning the corrupt one cannot serve either: NOT_FOUND, so ranking
  // falls back to linear.
  EXPECT_EQ(registry.Create("gbdt@" + bad_meta->version, {}).status().code(),
            absl::StatusCode::kNotFound);

  // Roll back: promote the first version.
  ASSERT_TRUE(store_->Promote(first.model_version()).ok());
  EXPECT_TRUE(Serves(models, ranking::LearnedKind::kGbdt, first.model_version()));

  // A logistic model lives in its own slot.
  const v1::Job lr = TrainDone("logistic");
  EXPECT_EQ(lr.algorithm(), v1::RANKER_LOGISTIC);
  EXPECT_FALSE(lr.history().empty());
  EXPECT_TRUE(lr.history(0).metrics().contains("valid_logloss"));
  EXPECT_TRUE(Serves(models, ranking::LearnedKind::kLogistic, lr.model_version()));
  models.Stop();
}

TEST_F(RankerLoopTest, FeedbackSurvivesARestartAndReportsReadTheExperiment) {
  AddFeedback(*pool_, 600, 2);
  ASSERT_TRUE(log_->Sync().ok());
  const int64_t impressions = feedback_->impressions();
  const int64_t clicks = feedback_->clicks();
  EXPECT_EQ(impressions, 600 * 8);
  Shutdown();
  Boot();
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_EQ(feedback_->impressions(), impressions);
  EXPECT_EQ(feedback_->clicks(), clicks);

  grpc::ClientContext ctx;
  v1::ExperimentReportRequest req;
  req.set_experiment("rank-ab");
  v1::ExperimentReportResponse report;
  ASSERT_TRUE(stub_->ExperimentReport(&ctx, req, &report).ok());
  ASSERT_EQ(report.variants_size(), 2);
  EXPECT_EQ(report.variants(0).name(), "control");
  EXPECT_EQ(report.variants(0).users(), 100);
  EXPECT_EQ(report.variants(0).impressions() + report.variants(1).impressions(), impressions);
  EXPECT_EQ(report.variants(0).clicks() + report.variants(1).clicks(), clicks);
  ASSERT_EQ(report.comparisons_size(), 1);
  EXPECT_LT(report.variants(0).ctr_ci_low(), report.variants(0).ctr());
  EXPECT_GT(report.srm_p_value(), 0.5);  // exactly 100 users each
}

TEST_F(RankerLoopTest, BadInputIsRefusedNamingTheProblem) {
  v1::Job job;
  grpc::Status st = Train("gbdt", &job);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("no impressions"), std::string::npos);
  st = Train("xgb", &job);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("gbdt, logistic"), std::string::npos);
  {
    v1::StartRankerTrainingRequest req;
    req.mutable_params()->set_model("logistic");
    req.mutable_params()->set_optimizer("rmsprop");
    grpc::ClientContext ctx;
    st = stub_->StartRankerTraining(&ctx, req, &job);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (const auto& [mask, missing, want] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"popularity", "", "FEATURE:RATE"},
           {"popularity:lots", "", "FEATURE:RATE"},
           {"no_such:0.3", "", "no_such"},
           {"popularity:2", "", "mask rate"},
           {"", "guess", "guess"}}) {
    v1::StartRankerTrainingRequest req;
    req.mutable_params()->set_model("logistic");
    req.mutable_params()->set_mask(mask);
    req.mutable_params()->set_missing(missing);
    grpc::ClientContext ctx;
    st = stub_->StartRankerTraining(&ctx, req, &job);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << mask << missing;
    EXPECT_NE(st.error_message().find(want), std::string::npos) << st.error_message();
  }
  {
    v1::StartRankerTrainingRequest req;
    req.mutable_params()->set_model("gbdt");
    req.mutable_params()->set_window_ms(-1);
    grpc::ClientContext ctx;
    st = stub_->StartRankerTraining(&ctx, req, &job);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::ExperimentReportRequest req;
    req.set_experiment("nope");
    v1::ExperimentReportResponse r;
    st = stub_->ExperimentReport(&ctx, req, &r);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_NE(st.error_message().find("unknown experiment 'nope' (known: rank-ab)"),
              std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    v1::EvaluateRankerRequest req;
    req.set_ranker("magic");
    v1::EvaluateRankerResponse r;
    EXPECT_EQ(stub_->EvaluateRanker(&ctx, req, &r).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::EvaluateRankerRequest req;
    req.set_ranker("gbdt");
    v1::EvaluateRankerResponse r;
    st = stub_->EvaluateRanker(&ctx, req, &r);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(st.error_message().find("no published model"), std::string::npos);
  }
}

}  // namespace
}  // namespace recstack::training
