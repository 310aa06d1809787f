// The training service over real gRPC, consuming a real Redis stream.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "common/grpc/channel.h"
#include "common/math/rng.h"
#include "recstack/v1/training.grpc.pb.h"
#include "services/training/training_service.h"
#include "tests/integration/training/wait_job.h"
#include "tests/support/grpc/in_process_server.h"
#include "tests/support/redis/redis_server.h"

namespace recstack::training {
namespace {

using namespace std::chrono_literals;

// Writes events the way ingestion does (see services/ingestion/event_store.h).
void AddEvents(redis::Pool& pool, int users, int items, int per_user, uint64_t seed,
               const std::string& type = "PLAY") {
  math::Rng rng(seed);
  std::vector<std::vector<std::string>> cmds;
  for (int u = 0; u < users; ++u) {
    for (int j = 0; j < per_user; ++j) {
      // Users of the same parity like the same half of the catalogue.
      const int item = static_cast<int>((u % 2) * (items / 2) + rng.Below(items / 2));
      cmds.push_back({"XADD", "rs:events", "*", "id", "e" + std::to_string(cmds.size()), "user",
                      "u" + std::to_string(u), "item", "i" + std::to_string(item), "type", type,
                      "value", type == "RATING" ? "4" : "1", "ts", "1767225600000"});
    }
  }
  ASSERT_TRUE(pool.Pipeline(cmds).ok());
}

class TrainingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("recstack-train-" + std::to_string(::getpid()) + "-" +
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
  // consume_interval 0: no background consumer, so that the tests' own
  // Syncs count exactly; TheConsumerKeepsTheSnapshotCurrent turns it on.
  void Boot(std::chrono::milliseconds consume_interval = std::chrono::milliseconds(0)) {
    log_ = std::make_unique<EventLog>(*pool_, redis::Keyspace(), dir_);
    ASSERT_TRUE(log_->Open().ok());
    store_ = std::make_unique<model::ModelStore>(*pool_, redis::Keyspace());
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<TrainingMetrics>(*registry_);
    RunnerOptions ro;
    ro.consume_interval = consume_interval;
    runner_ = std::make_unique<JobRunner>(*log_, *store_, clock_, ro, MetricsObserver(*metrics_));
    service_ = std::make_unique<TrainingServiceImpl>(*runner_, *store_, *metrics_);
    server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{service_.get()});
    stub_ = v1::TrainingService::NewStub(server_->channel());
  }
  void Shutdown() {
    server_.reset();
    service_.reset();
    runner_.reset();
    log_.reset();
  }
  grpc::Status Start(const v1::StartTrainingRequest& req, v1::Job* job) {
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, 10s);
    return stub_->StartTraining(&ctx, req, job);
  }
  v1::Job WaitDone(const std::string& id) { return recstack::testing::WaitJob(*stub_, id, 600); }

  testing::RedisServer redis_;
  SystemClock clock_;
  std::string dir_;
  std::unique_ptr<redis::Pool> pool_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<model::ModelStore> store_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<TrainingMetrics> metrics_;
  std::unique_ptr<JobRunner> runner_;
  std::unique_ptr<TrainingServiceImpl> service_;
  std::unique_ptr<testing::InProcessServer> server_;
  std::unique_ptr<v1::TrainingService::Stub> stub_;
};

TEST_F(TrainingServiceTest, NoEventsIsFailedPrecondition) {
  v1::Job job;
  auto st = Start({}, &job);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("no events"), std::string::npos);
}

TEST_F(TrainingServiceTest, BadParamsAreInvalidArgument) {
  AddEvents(*pool_, 10, 10, 3, 1);
  v1::StartTrainingRequest req;
  req.mutable_params()->set_factors(-3);
  v1::Job job;
  auto st = Start(req, &job);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.mutable_params()->set_factors(8);
  req.mutable_params()->set_split("halves");
  st = Start(req, &job);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("--split"), std::string::npos);
  req.mutable_params()->set_split("");
  (*req.mutable_params()->mutable_event_weights())["SNEEZE"] = 1;
  st = Start(req, &job);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.mutable_params()->clear_event_weights();
  (*req.mutable_params()->mutable_event_weights())["IMPRESSION"] = 0.5;
  st = Start(req, &job);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("IMPRESSION must be 0"), std::string::npos)
      << st.error_message();
}

// Impressions are the feedback log's (bounded by its retention), never the
// snapshot's: 10 of them per Recommend would grow it for ever.
TEST_F(TrainingServiceTest, ImpressionsGoToTheFeedbackLogNotTheSnapshot) {
  FeedbackLog feedback(dir_ + "/feedback");
  ASSERT_TRUE(feedback.Open().ok());
  log_->set_feedback(&feedback);
  AddEvents(*pool_, 4, 10, 5, 3);                // 20 interactions
  AddEvents(*pool_, 4, 10, 5, 4, "IMPRESSION");  // 20 impressions, no request id
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < 6; ++i) {
    cmds.push_back({"XADD", "rs:events", "*", "user", "u1", "item", "i" + std::to_string(i), "type",
                    "IMPRESSION", "value", "1", "ts", "1767225600000", "ctx",
                    R"({"request_id":"r1","position":")" + std::to_string(i) + R"("})"});
  }
  cmds.push_back({"XADD", "rs:events", "*", "user", "u1", "item", "i2", "type", "CLICK", "value",
                  "1", "ts", "1767225601000", "ctx", R"({"request_id":"r1"})"});
  ASSERT_TRUE(pool_->Pipeline(cmds).ok());
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_EQ(log_->size(), 21);  // the interactions and the click
  EXPECT_EQ(feedback.impressions(), 6);
  EXPECT_EQ(feedback.clicks(), 1);
  log_->set_feedback(nullptr);
}

TEST_F(TrainingServiceTest, TrainsPublishesAndListsModels) {
  AddEvents(*pool_, 200, 100, 15, 2);
  v1::StartTrainingRequest req;
  req.mutable_params()->set_factors(8);
  req.mutable_params()->set_iterations(5);
  req.mutable_params()->set_regularization(1);
  v1::Job job;
  ASSERT_TRUE(Start(req, &job).ok());
  job = WaitDone(job.job_id());
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.model_version(), "v1");
  EXPECT_EQ(job.history_size(), 5);
  EXPECT_GT(job.metrics().at("ndcg@10"), 0.0);
  EXPECT_EQ(job.n_users(), 200);
  auto items = store_->LoadItems(*store_->CurrentVersion());
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->meta.factors, 8);
  EXPECT_LE(items->item_ids.size(), 100u);
  EXPECT_GT(items->item_ids.size(), 90u);
  auto user = store_->GetUserVector("v1", "u7");
  ASSERT_TRUE(user.ok() && user->has_value());
  grpc::ClientContext ctx;
  v1::ListModelsResponse models;
  ASSERT_TRUE(stub_->ListModels(&ctx, {}, &models).ok());
  EXPECT_EQ(models.current_version(), "v1");
  ASSERT_EQ(models.models_size(), 1);
  EXPECT_TRUE(models.models(0).current());
  // A second model, then roll back to the first.
  ASSERT_TRUE(Start(req, &job).ok());
  ASSERT_EQ(WaitDone(job.job_id()).model_version(), "v2");
  grpc::ClientContext pctx;
  v1::PromoteModelRequest promote;
  promote.set_version("v1");
  v1::ModelInfo info;
  ASSERT_TRUE(stub_->PromoteModel(&pctx, promote, &info).ok());
  EXPECT_EQ(*store_->CurrentVersion(), "v1");
  grpc::ClientContext bad;
  promote.set_version("v99");
  EXPECT_EQ(stub_->PromoteModel(&bad, promote, &info).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(TrainingServiceTest, ExplicitTrainsOnRatingsOnly) {
  AddEvents(*pool_, 50, 40, 10, 3, "RATING");
  AddEvents(*pool_, 50, 40, 10, 4, "VIEW");
  v1::StartTrainingRequest req;
  req.set_algorithm(v1::ALS_EXPLICIT);
  req.mutable_params()->set_iterations(3);
  v1::Job job;
  ASSERT_TRUE(Start(req, &job).ok());
  job = WaitDone(job.job_id());
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_TRUE(job.metrics().count("rmse"));
  auto meta = store_->GetMeta(job.model_version());
  ASSERT_TRUE(meta.ok());
  EXPECT_TRUE(meta->has_biases);
  EXPECT_NEAR(meta->global_mean, 4.0, 1e-5);
}

// The API has no SGD value, but a job the runner is given directly with
// sgd-explicit trains on ratings and publishes the explicit kind with biases
// (the model store has no SGD kind; the model is the same).
TEST_F(TrainingServiceTest, SgdExplicitJobPublishesTheExplicitKind) {
  AddEvents(*pool_, 50, 40, 10, 3, "RATING");
  JobSpec spec;
  spec.config.algorithm = mf::Algorithm::kSgdExplicit;
  spec.config.als.factors = 4;
  spec.config.als.iterations = 3;
  auto started = runner_->Start(spec);
  ASSERT_TRUE(started.ok()) << started.status();
  v1::Job job = WaitDone(started->id);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.algorithm(), v1::ALS_EXPLICIT);
  EXPECT_TRUE(job.metrics().count("rmse"));
  auto meta = store_->GetMeta(job.model_version());
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->kind, model::ModelKind::kExplicitAls);
  EXPECT_TRUE(meta->has_biases);
  EXPECT_EQ(meta->params.at("trainer"), "sgd-explicit");
  EXPECT_EQ(meta->params.at("optimizer"), "adam");
}

// An EASE job publishes the importance truncation (common/mf/ease.h) in the
// EASE slot: n_items * top_n weights at most, rows of different lengths,
// the longest one as the meta's `neighbours`.
TEST_F(TrainingServiceTest, EaseJobPublishesTheImportanceTruncation) {
  AddEvents(*pool_, 60, 40, 10, 5);
  JobSpec spec;
  spec.config.algorithm = mf::Algorithm::kEase;
  spec.config.ease.lambda = 10.0f;
  spec.config.ease.top_n = 5;
  auto started = runner_->Start(spec);
  ASSERT_TRUE(started.ok()) << started.status();
  v1::Job job = WaitDone(started->id);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  auto n = store_->LoadNeighbours(job.model_version());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->meta.kind, model::ModelKind::kEase);
  EXPECT_EQ(n->meta.params.at("truncation"), "importance");
  EXPECT_EQ(n->meta.params.at("top_n"), "5");
  EXPECT_EQ(store_->CurrentVersion(model::Slot::kEase).value(), job.model_version());
  const int64_t items = static_cast<int64_t>(n->item_ids.size());
  EXPECT_LE(static_cast<int64_t>(n->ids.size()), items * 5);
  EXPECT_GT(static_cast<int64_t>(n->ids.size()), items * 4);  // the budget is used
  int64_t most = 0;
  for (int64_t i = 0; i < items; ++i) most = std::max(most, n->indptr[i + 1] - n->indptr[i]);
  EXPECT_EQ(most, n->meta.neighbours);
  for (float w : n->weights) EXPECT_NE(w, 0.0f);
}

TEST_F(TrainingServiceTest, RestartResumesWithoutDoubleCounting) {
  AddEvents(*pool_, 20, 10, 5, 5);  // 100 events
  ASSERT_EQ(*log_->Sync(), 100);
  Shutdown();
  AddEvents(*pool_, 20, 10, 2, 6);  // 40 more while down
  Boot();
  EXPECT_EQ(log_->size(), 100);  // from the snapshot on disk
  ASSERT_EQ(*log_->Sync(), 40);
  EXPECT_EQ(log_->size(), 140);
  EXPECT_EQ(*log_->Sync(), 0);
  // Nothing is left pending in the group.
  auto pending = pool_->Command({"XPENDING", "rs:events", "training"});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->elements[0].integer, 0);
}

// The service consumes the stream in the background: the snapshot follows
// the stream without anyone asking, and StartTraining does not sync.
TEST_F(TrainingServiceTest, TheConsumerKeepsTheSnapshotCurrent) {
  Shutdown();
  Boot(std::chrono::milliseconds(20));
  AddEvents(*pool_, 20, 10, 5, 9);  // 100 events
  for (int i = 0; i < 250 && log_->size() < 100; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(log_->size(), 100);
  AddEvents(*pool_, 20, 10, 1, 10);  // 20 more
  for (int i = 0; i < 250 && log_->size() < 120; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(log_->size(), 120);
  EXPECT_EQ(*log_->Sync(), 0);  // nothing left to read
}

TEST_F(TrainingServiceTest, DeliveredButUnacknowledgedEntriesAreNotLost) {
  AddEvents(*pool_, 5, 5, 4, 7);  // 20 events
  // Another reader of the same consumer took them and died before XACK.
  ASSERT_TRUE(pool_->Command({"XGROUP", "CREATE", "rs:events", "training", "0", "MKSTREAM"}).ok());
  ASSERT_TRUE(pool_
                  ->Command({"XREADGROUP", "GROUP", "training", "trainer-1", "COUNT", "100",
                             "STREAMS", "rs:events", ">"})
                  .ok());
  ASSERT_EQ(*log_->Sync(), 20);
  EXPECT_EQ(log_->size(), 20);
}

TEST_F(TrainingServiceTest, CancelStopsAJob) {
  AddEvents(*pool_, 300, 200, 20, 8);
  v1::StartTrainingRequest req;
  req.mutable_params()->set_iterations(1000);
  req.mutable_params()->set_factors(32);
  v1::Job job;
  ASSERT_TRUE(Start(req, &job).ok());
  // A second job while one runs is refused.
  v1::Job other;
  EXPECT_EQ(Start(req, &other).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  grpc::ClientContext ctx;
  v1::CancelJobRequest cancel;
  cancel.set_job_id(job.job_id());
  ASSERT_TRUE(stub_->CancelJob(&ctx, cancel, &other).ok());
  job = WaitDone(job.job_id());
  EXPECT_EQ(job.state(), v1::CANCELLED);
  EXPECT_LT(job.iteration(), 1000);
  EXPECT_FALSE(store_->CurrentVersion().ok());  // nothing published
}

}  // namespace
}  // namespace recstack::training
