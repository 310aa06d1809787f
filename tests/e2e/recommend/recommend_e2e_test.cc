// End to end, every service in-process on loopback gRPC with one real
// redis-server: ingest MovieLens 100K, train, and ask the gateway (gRPC and
// HTTP) for recommendations; then take services away.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/grpc/channel.h"
#include "common/ranking/item_updates.h"
#include "common/ranking/redis_feature_source.h"
#include "common/retrieval/history_cache.h"
#include "services/gateway/gateway.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/http_server.h"
#include "services/gateway/local_backends.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/redis_event_storage.h"
#include "services/ranking/ranking_service.h"
#include "services/retrieval/retrieval_service.h"
#include "services/training/job_runner.h"
#include "tests/support/data/movielens_events.h"
#include "tests/support/grpc/in_process_server.h"
#include "tests/support/redis/redis_server.h"

namespace recstack {
namespace {

using namespace std::chrono_literals;

class RecommendE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<redis::Pool>(redis_.options(), 8);
    registry_ = std::make_shared<prometheus::Registry>();
    // Ingestion.
    storage_ = std::make_unique<ingestion::RedisEventStorage>(*pool_, redis_.keyspace());
    store_ = std::make_unique<ingestion::EventStore>(*storage_, ingestion::StoreOptions{}, clock_);
    ingestion_ = std::make_unique<ingestion::IngestionServiceImpl>(
        *store_, clock_, events::ValidationLimits{}, *registry_);
    ingestion_server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{ingestion_.get()});
    LoadMovieLens();
    // Training: the job runner on the same stream, few iterations.
    dir_ = std::filesystem::temp_directory_path() / ("recstack-e2e-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    models_ = std::make_unique<model::ModelStore>(*pool_, redis_.keyspace());
    event_log_ = std::make_unique<training::EventLog>(*pool_, redis_.keyspace(), dir_.string());
    ASSERT_TRUE(event_log_->Open().ok());
    runner_ = std::make_unique<training::JobRunner>(*event_log_, *models_, clock_,
                                                    training::RunnerOptions{});
    training::JobSpec spec;
    spec.config.als = {.factors = 16, .iterations = 4, .regularization = 5.0f, .alpha = 0.3f};
    spec.split = "none";
    auto job = runner_->Start(spec);
    ASSERT_TRUE(job.ok()) << job.status();
    auto done = runner_->Wait(job->id, 60s);
    ASSERT_TRUE(done.ok() && done->state == training::JobState::kSucceeded) << done->error;
    // Retrieval.
    holder_ = std::make_unique<retrieval::ModelHolder>(
        *models_, redis_.options(), redis_.keyspace(), retrieval::HolderOptions{});
    holder_->Start();
    ASSERT_NE(holder_->Current(), nullptr);
    retrieval_source_ =
        std::make_unique<retrieval::RedisRetrievalSource>(*pool_, *models_, redis_.keyspace());
    // Histories in memory until ingestion announces a change, as retrieval's
    // node has them (common/retrieval/history_cache.h).
    history_cache_ = std::make_unique<retrieval::HistoryCache>(retrieval::HistoryCacheOptions{});
    cached_source_ =
        std::make_unique<retrieval::HistoryCachedSource>(*retrieval_source_, *history_cache_);
    history_updates_ = std::make_unique<retrieval::HistoryUpdatesFollower>(
        redis_.options(), redis_.keyspace(), *history_cache_);
    history_updates_->Start();
    for (int i = 0; i < 500 && !history_cache_->live(); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(history_cache_->live()) << "never subscribed to the history announcements";
    retriever_ = std::make_unique<retrieval::Retriever>(*holder_, *cached_source_, clock_,
                                                        retrieval::RetrieverOptions{});
    retriever_->Start();  // the trending list, read from Redis in the background
    retrieval_metrics_ = std::make_unique<retrieval::RetrievalMetrics>(*registry_);
    retrieval_handler_ =
        std::make_unique<retrieval::RetrievalHandler>(*retriever_, *retrieval_metrics_);
    retrieval_ = std::make_unique<retrieval::RetrievalServiceImpl>(*retrieval_handler_);
    retrieval_server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{retrieval_.get()});
    // Ranking.
    feature_source_ = std::make_unique<ranking::RedisFeatureSource>(*pool_, redis_.keyspace());
    features_ = std::make_unique<ranking::FeatureAssembler>(*feature_source_, clock_);
    item_updates_ = std::make_unique<ranking::ItemUpdatesFollower>(redis_.options(),
                                                                   redis_.keyspace(), *features_);
    item_updates_->Start();
    auto experiments = ranking::DefaultExperiments("linear");
    item_vectors_ = model::MakeItemVectorsHolder(*models_, redis_.options(), redis_.keyspace());
    item_vectors_->Start();
    engine_ = std::make_unique<ranking::RankingEngine>(
        *features_, ranking::RankerRegistry::WithBuiltins(), experiments, item_vectors_.get());
    ranking_metrics_ = std::make_unique<ranking::RankingMetrics>(*registry_, experiments);
    ranking_handler_ = std::make_unique<ranking::RankingHandler>(*engine_, *ranking_metrics_);
    ranking_ = std::make_unique<ranking::RankingServiceImpl>(*ranking_handler_);
    ranking_server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{ranking_.get()});
    // Gateway, gRPC and HTTP.
    gateway_metrics_ = std::make_unique<gateway::GatewayMetrics>(*registry_);
    gateway::GatewayOptions go;
    go.retrieval_budget = 500ms;  // generous: sanitizer builds are slow
    go.ranking_budget = 500ms;
    go.total_budget = 2000ms;
    gateway_ =
        std::make_unique<gateway::Gateway>(std::make_unique<gateway::GrpcRetrievalBackend>(
                                               grpcutil::MakeChannel(retrieval_server_->address())),
                                           std::make_unique<gateway::GrpcRankingBackend>(
                                               grpcutil::MakeChannel(ranking_server_->address())),
                                           std::make_unique<gateway::GrpcIngestionBackend>(
                                               grpcutil::MakeChannel(ingestion_server_->address())),
                                           /*training=*/nullptr, go, *gateway_metrics_);
    ASSERT_TRUE(gateway_->StartFallbackRefresh().ok());  // the in-memory trending list
    gateway_service_ = std::make_unique<gateway::GatewayServiceImpl>(*gateway_);
    gateway_server_ = std::make_unique<testing::InProcessServer>(
        std::vector<grpc::Service*>{gateway_service_.get()});
    http_ = std::make_unique<gateway::HttpServer>(*gateway_, [] { return true; });
    ASSERT_TRUE(http_->Start("127.0.0.1:0").ok());
    stub_ = v1::GatewayService::NewStub(gateway_server_->channel());
  }

  void TearDown() override {
    http_->Stop();
    gateway_server_.reset();
    gateway_.reset();
    ranking_server_.reset();
    item_updates_->Stop();
    retrieval_server_.reset();
    history_updates_->Stop();
    holder_->Stop();
    runner_.reset();
    std::filesystem::remove_all(dir_);
  }

  void LoadMovieLens() {
    auto all = testing::MovieLensEvents(std::string(RECSTACK_DATA_DIR) + "/ml-100k/u.data",
                                        clock_.NowMs());
    ASSERT_TRUE(all.ok()) << all.status();
    for (size_t a = 0; a < all->size(); a += 5000) {
      const std::vector<events::Event> batch(all->begin() + a,
                                             all->begin() + std::min(all->size(), a + 5000));
      ASSERT_TRUE(store_->Write(batch).ok());
    }
  }

  absl::StatusOr<v1::RecommendResponse> Recommend(const std::string& user, int k,
                                                  const std::string& ranker = "") {
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, 5s);
    v1::RecommendRequest req;
    req.set_user_id(user);
    req.set_k(k);
    req.set_ranker(ranker);
    req.set_debug(true);
    v1::RecommendResponse resp;
    grpc::Status st = stub_->Recommend(&ctx, req, &resp);
    if (!st.ok())
      return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    return resp;
  }

  std::set<std::string> History(const std::string& user) {
    auto r = pool_->Command({"ZRANGE", redis_.keyspace().History(user), "0", "-1"});
    std::set<std::string> out;
    for (const auto& e : r->elements) out.insert(e.str);
    return out;
  }

  testing::TestRedis redis_;
  SystemClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<redis::Pool> pool_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ingestion::RedisEventStorage> storage_;
  std::unique_ptr<ingestion::EventStore> store_;
  std::unique_ptr<ingestion::IngestionServiceImpl> ingestion_;
  std::unique_ptr<testing::InProcessServer> ingestion_server_;
  std::unique_ptr<model::ModelStore> models_;
  std::unique_ptr<training::EventLog> event_log_;
  std::unique_ptr<training::JobRunner> runner_;
  std::unique_ptr<retrieval::ModelHolder> holder_;
  std::unique_ptr<retrieval::RedisRetrievalSource> retrieval_source_;
  std::unique_ptr<retrieval::HistoryCache> history_cache_;
  std::unique_ptr<retrieval::HistoryCachedSource> cached_source_;
  std::unique_ptr<retrieval::HistoryUpdatesFollower> history_updates_;
  std::unique_ptr<retrieval::Retriever> retriever_;
  std::unique_ptr<retrieval::RetrievalMetrics> retrieval_metrics_;
  std::unique_ptr<retrieval::RetrievalHandler> retrieval_handler_;
  std::unique_ptr<retrieval::RetrievalServiceImpl> retrieval_;
  std::unique_ptr<testing::InProcessServer> retrieval_server_;
  std::unique_ptr<ranking::RedisFeatureSource> feature_source_;
  std::unique_ptr<ranking::FeatureAssembler> features_;
  std::unique_ptr<ranking::ItemUpdatesFollower> item_updates_;
  std::unique_ptr<model::ItemVectorsHolder> item_vectors_;
  std::unique_ptr<ranking::RankingEngine> engine_;
  std::unique_ptr<ranking::RankingMetrics> ranking_metrics_;
  std::unique_ptr<ranking::RankingHandler> ranking_handler_;
  std::unique_ptr<ranking::RankingServiceImpl> ranking_;
  std::unique_ptr<testing::InProcessServer> ranking_server_;
  std::unique_ptr<gateway::GatewayMetrics> gateway_metrics_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<gateway::GatewayServiceImpl> gateway_service_;
  std::unique_ptr<testing::InProcessServer> gateway_server_;
  std::unique_ptr<gateway::HttpServer> http_;
  std::unique_ptr<v1::GatewayService::Stub> stub_;
};

TEST_F(RecommendE2E, KnownFoldedInAndUnknownUsers) {
  // A known user: k unseen items, ranked, not degraded.
  auto known = Recommend("1", 10);
  ASSERT_TRUE(known.ok()) << known.status();
  EXPECT_FALSE(known->degraded()) << known->degraded_reason();
  ASSERT_EQ(known->items_size(), 10);
  EXPECT_EQ(known->model_version(), "v1");
  EXPECT_EQ(known->ranker(), "linear");
  EXPECT_EQ(known->variant(), "control");
  auto seen = History("1");
  EXPECT_EQ(seen.size(), 272u);  // user 1 rated 272 movies
  for (const auto& it : known->items()) {
    EXPECT_FALSE(seen.count(it.item_id())) << it.item_id() << " was already seen";
    EXPECT_FALSE(it.explanation().contributions().empty());
  }
  // A new user with a little history, not in the model: folded in.
  v1::IngestEventsRequest ev;
  for (const char* item : {"50", "172", "181", "174", "210"}) {
    v1::Event* e = ev.add_events();
    e->set_user_id("newcomer");
    e->set_item_id(item);
    e->set_type(v1::LIKE);
  }
  {
    grpc::ClientContext ctx;
    v1::IngestEventsResponse r;
    ASSERT_TRUE(stub_->IngestEvents(&ctx, ev, &r).ok());
    ASSERT_EQ(r.accepted(), 5);
  }
  auto folded = Recommend("newcomer", 10);
  ASSERT_TRUE(folded.ok()) << folded.status();
  ASSERT_EQ(folded->items_size(), 10);
  int mf = 0;
  for (const auto& it : folded->items()) {
    EXPECT_FALSE(History("newcomer").count(it.item_id()));
    mf += it.source() == "mf";
  }
  EXPECT_GT(mf, 0) << "no mf candidates: the new user was not folded in";
  // Nobody: trending.
  auto cold = Recommend("stranger", 5);
  ASSERT_TRUE(cold.ok()) << cold.status();
  ASSERT_EQ(cold->items_size(), 5);
  for (const auto& it : cold->items()) EXPECT_EQ(it.source(), "trending");
}

// The gateway with retrieval and ranking in its own process (--embed-*):
// the same handlers the gRPC servers serve, called directly, give the same
// answer, with nothing degraded; their calls are counted as retrieval's and
// ranking's; a call whose deadline has passed is not made.
TEST_F(RecommendE2E, EmbeddedRetrievalAndRankingAnswerAsOverGrpc) {
  auto embedded_registry = std::make_shared<prometheus::Registry>();
  gateway::GatewayMetrics embedded_metrics(*embedded_registry);
  gateway::GatewayOptions go;
  go.retrieval_budget = 500ms;
  go.ranking_budget = 500ms;
  go.total_budget = 2000ms;
  go.log_impressions = false;
  gateway::Gateway embedded(std::make_unique<gateway::LocalRetrievalBackend>(*retrieval_handler_),
                            std::make_unique<gateway::LocalRankingBackend>(*ranking_handler_),
                            std::make_unique<gateway::GrpcIngestionBackend>(
                                grpcutil::MakeChannel(ingestion_server_->address())),
                            /*training=*/nullptr, go, embedded_metrics);
  ASSERT_TRUE(embedded.StartFallbackRefresh().ok());
  for (const char* user : {"1", "42", "stranger"}) {
    SCOPED_TRACE(user);
    auto over_grpc = Recommend(user, 10);
    ASSERT_TRUE(over_grpc.ok()) << over_grpc.status();
    v1::RecommendRequest req;
    req.set_user_id(user);
    req.set_k(10);
    req.set_debug(true);
    auto in_process = embedded.Recommend(req, std::chrono::system_clock::now() + 5s);
    ASSERT_TRUE(in_process.ok()) << in_process.status();
    EXPECT_FALSE(in_process->degraded()) << in_process->degraded_reason();
    EXPECT_EQ(in_process->model_version(), over_grpc->model_version());
    EXPECT_EQ(in_process->ranker(), over_grpc->ranker());
    ASSERT_EQ(in_process->items_size(), over_grpc->items_size());
    for (int i = 0; i < in_process->items_size(); ++i) {
      EXPECT_EQ(in_process->items(i).item_id(), over_grpc->items(i).item_id()) << i;
      EXPECT_EQ(in_process->items(i).source(), over_grpc->items(i).source()) << i;
      EXPECT_DOUBLE_EQ(in_process->items(i).score(), over_grpc->items(i).score()) << i;
    }
  }
  // Both handlers counted the in-process calls with the gRPC ones: three
  // Recommends each way.
  auto counted = [&](const std::string& service, const std::string& method) {
    for (const auto& family : registry_->Collect()) {
      if (family.name != "recstack_rpc_requests_total") continue;
      for (const auto& m : family.metric) {
        std::map<std::string, std::string> labels;
        for (const auto& l : m.label) labels[l.name] = l.value;
        if (labels["service"] == service && labels["method"] == method && labels["code"] == "OK")
          return m.counter.value;
      }
    }
    return -1.0;
  };
  EXPECT_EQ(counted("retrieval", "Retrieve"), 6);
  EXPECT_EQ(counted("ranking", "Rank"), 6);
  // Past its deadline a call is not made.
  gateway::LocalRetrievalBackend late(*retrieval_handler_);
  v1::RetrieveRequest rr;
  rr.set_user_id("1");
  rr.set_k(10);
  auto missed = late.Retrieve(rr, std::chrono::system_clock::now() - 1ms);
  EXPECT_EQ(missed.status().code(), absl::StatusCode::kDeadlineExceeded) << missed.status();
  EXPECT_EQ(counted("retrieval", "Retrieve"), 6);
}

TEST_F(RecommendE2E, RankedItemsCarryTheirMetadataFromRanking) {
  // Every movie's metadata (title, categories, an attribute), as
  // ingestion's UpsertItems stores it.
  std::vector<ingestion::ItemRecord> items;
  for (int i = 1; i <= 1682; ++i) {
    const std::string id = std::to_string(i);
    items.push_back({.item_id = id,
                     .title = "Movie " + id,
                     .categories = {"drama", i % 2 ? "odd" : "even"},
                     .created_at_ms = 1000 + i,
                     .attributes = {{"year", std::to_string(1900 + i % 100)}}});
  }
  // Ranking's metadata cache hears of changed items (and forgets all it
  // held when it subscribes).
  for (auto until = std::chrono::steady_clock::now() + 10s;
       !item_updates_->connected() && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(item_updates_->connected());
  ASSERT_TRUE(store_->UpsertItems(items).ok());
  auto r = Recommend("1", 10);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->items_size(), 10);
  EXPECT_EQ(r->ranker(), "linear");
  for (const auto& it : r->items()) {
    const int i = std::stoi(it.item_id());
    EXPECT_EQ(it.item().item_id(), it.item_id());
    EXPECT_EQ(it.item().title(), "Movie " + it.item_id());
    EXPECT_EQ(
        std::vector<std::string>(it.item().categories().begin(), it.item().categories().end()),
        (std::vector<std::string>{"drama", i % 2 ? "odd" : "even"}));
    EXPECT_EQ(it.item().created_at_ms(), 1000 + i);
    EXPECT_EQ(it.item().attributes().at("year"), std::to_string(1900 + i % 100));
  }
  // Retitled: the next Recommends carry the new titles, though ranking
  // cached the old ones for an hour; the announcement takes milliseconds.
  for (auto& item : items) item.title += ", restored";
  ASSERT_TRUE(store_->UpsertItems(items).ok());
  int stale = -1;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       stale != 0 && std::chrono::steady_clock::now() < until;) {
    if (stale > 0) std::this_thread::sleep_for(20ms);
    auto again = Recommend("1", 10);
    ASSERT_TRUE(again.ok()) << again.status();
    ASSERT_EQ(again->items_size(), 10);
    stale = 0;
    for (const auto& it : again->items())
      stale += it.item().title() != "Movie " + it.item_id() + ", restored";
  }
  EXPECT_EQ(stale, 0) << "ranked items still carry their old titles";
}

// The user's history is read once (one pipeline of ZREVRANGE and ZCARD by
// retrieval), then held in memory until ingestion announces a change; the
// gateway hands it on to ranking, whose features are those of the whole
// history.
TEST_F(RecommendE2E, TheHistoryIsReadOnceAndRankingUsesRetrievalsRead) {
  auto zcard_calls = [&]() -> int64_t {
    auto info = pool_->Command({"INFO", "commandstats"});
    EXPECT_TRUE(info.ok()) << info.status();
    if (!info.ok()) return -1;
    const std::string& text = info->str;
    const size_t at = text.find("cmdstat_zcard:calls=");
    if (at == std::string::npos) return 0;
    return std::stoll(text.substr(at + std::strlen("cmdstat_zcard:calls=")));
  };
  ASSERT_TRUE(Recommend("1", 10).ok());  // the caches warm
  const int64_t before = zcard_calls();
  const uint64_t hits_before = history_cache_->hits();
  constexpr int kRecommends = 3;
  for (int i = 0; i < kRecommends; ++i) {
    auto r = Recommend("1", 10);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->degraded()) << r->degraded_reason();
    // user_activity is log(1 + the whole history's length): 272 movies.
    bool found = false;
    for (const auto& st : r->stages()) {
      if (st.stage() != "ranking") continue;
      ASSERT_GT(st.features_size(), 0);
      for (const auto& fv : st.features()) {
        EXPECT_DOUBLE_EQ(fv.features().at("user_activity"), std::log1p(272.0));
        found = true;
      }
    }
    EXPECT_TRUE(found) << "no ranking stage with features";
  }
  // Every Recommend's history came from memory, and ranking asked Redis
  // for none of its own. (INFO is one node's on a cluster, where the key
  // may live on another: counted on the single server only.)
  EXPECT_EQ(history_cache_->hits() - hits_before, static_cast<uint64_t>(kRecommends));
  if (!redis_.cluster()) EXPECT_EQ(zcard_calls() - before, 0);
  // A history ranking cannot use is the caller's mistake, and says which.
  auto rank = v1::RankingService::NewStub(grpcutil::MakeChannel(ranking_server_->address()));
  struct Bad {
    int64_t length;
    std::vector<std::string> ids;
    std::string says;
  };
  for (const Bad& bad :
       {Bad{1, {"50", "172"}, "history length 1"}, Bad{2, {"50", ""}, "history item"},
        Bad{2000, std::vector<std::string>(1001, "50"), "1000 history items"}}) {
    v1::RankRequest req;
    req.set_user_id("1");
    req.set_k(5);
    req.add_candidates()->set_item_id("181");
    req.mutable_history()->set_length(bad.length);
    for (const auto& id : bad.ids) req.mutable_history()->add_item_ids(id);
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, 5s);
    v1::RankResponse resp;
    grpc::Status st = rank->Rank(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad.says;
    EXPECT_NE(st.error_message().find(bad.says), std::string::npos) << st.error_message();
  }
}

// A held history is forgotten when an event changes it: ingestion's write
// announces the user (rs:users:updates), so the item the user just watched
// is filtered from the Recommends after it, on one server or a cluster.
TEST_F(RecommendE2E, AnInteractionReachesTheNextRecommendsThroughTheHistoryCache) {
  auto first = Recommend("1", 10);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_GT(first->items_size(), 0);
  ASSERT_TRUE(Recommend("1", 10).ok());
  ASSERT_GT(history_cache_->hits(), 0u) << "user 1's history was not held";
  const std::string watched = first->items(0).item_id();
  v1::IngestEventsRequest ev;
  v1::Event* e = ev.add_events();
  e->set_user_id("1");
  e->set_item_id(watched);
  e->set_type(v1::VIEW);
  {
    grpc::ClientContext ctx;
    v1::IngestEventsResponse r;
    ASSERT_TRUE(stub_->IngestEvents(&ctx, ev, &r).ok());
    ASSERT_EQ(r.accepted(), 1);
  }
  // The announcement is delivered in milliseconds; until then the held
  // history may still be served. Once the item is gone it stays gone.
  bool gone = false;
  for (int i = 0; i < 200; ++i) {
    auto r = Recommend("1", 10);
    ASSERT_TRUE(r.ok()) << r.status();
    bool listed = false;
    for (const auto& it : r->items()) listed |= it.item_id() == watched;
    if (gone) {
      EXPECT_FALSE(listed) << watched << " came back after it was filtered";
    } else if (!listed) {
      gone = true;
      i = 190;  // a few more, to see it stay gone
    } else {
      std::this_thread::sleep_for(10ms);
    }
  }
  EXPECT_TRUE(gone) << watched << " was still recommended 2 s after it was watched";
  EXPECT_EQ(History("1").count(watched), 1u);
}

TEST_F(RecommendE2E, OverHttp) {
  httplib::Client http("127.0.0.1", http_->port());
  auto res = http.Get("/v1/users/1/recommendations?k=10&debug=true");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["items"].size(), 10u);
  EXPECT_EQ(j["model_version"], "v1");
  EXPECT_FALSE(j["stages"].empty());
  res = http.Post("/v1/events", R"({"user_id":"web","item_id":"50","type":"CLICK"})",
                  "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = http.Get("/v1/items/50/similar?k=3");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["items"].size(), 3u);
  res = http.Get("/");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("recommendation"), std::string::npos);
}

TEST_F(RecommendE2E, BadInputIsRejectedAndServiceKeepsServing) {
  for (auto [user, k, ranker, code] :
       std::vector<std::tuple<std::string, int, std::string, absl::StatusCode>>{
           {"", 10, "", absl::StatusCode::kInvalidArgument},
           {"1", -1, "", absl::StatusCode::kInvalidArgument},
           {"1", 1001, "", absl::StatusCode::kInvalidArgument},
           {"1", 10, "nope", absl::StatusCode::kInvalidArgument}}) {
    auto r = Recommend(user, k, ranker);
    EXPECT_EQ(r.status().code(), code) << user << " " << k << " " << ranker;
  }
  EXPECT_NE(std::string(Recommend("1", 10, "nope").status().message()).find("known:"),
            std::string::npos);
  httplib::Client http("127.0.0.1", http_->port());
  auto res = http.Get("/v1/users/1/recommendations?k=abc");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(nlohmann::json::parse(res->body)["error"]["code"], "INVALID_ARGUMENT");
  res = http.Get("/v1/users/1/recommendations?k=5000");
  EXPECT_EQ(res->status, 400);
  res = http.Post("/v1/events", "{not json", "application/json");
  EXPECT_EQ(res->status, 400);
  res = http.Delete("/v1/users/1/recommendations");
  EXPECT_EQ(res->status, 405);
  res = http.Get("/v1/items/not-an-item/similar");
  EXPECT_EQ(res->status, 404);
  res = http.Get("/no/such/path");
  EXPECT_EQ(res->status, 404);
  // Still serving.
  EXPECT_TRUE(Recommend("1", 10).ok());
}

TEST_F(RecommendE2E, RankingDownMeansRetrievalOrder) {
  // The reference, with ranking up: ranked by the linear ranker, and (debug)
  // retrieval's candidates in retrieval order as its "retrieval" stage.
  auto reference = Recommend("2", 10);
  ASSERT_TRUE(reference.ok()) << reference.status();
  ASSERT_FALSE(reference->degraded()) << reference->degraded_reason();
  EXPECT_EQ(reference->ranker(), "linear");
  const v1::StageDebug* retrieved = nullptr;
  for (const auto& st : reference->stages()) {
    if (st.stage() == "retrieval") retrieved = &st;
  }
  ASSERT_NE(retrieved, nullptr) << "no retrieval stage in a debug response";
  ASSERT_GE(retrieved->items_size(), 10);
  std::vector<std::string> retrieval_order, ranked_order;
  for (int i = 0; i < 10; ++i) retrieval_order.push_back(retrieved->items(i).item_id());
  for (const auto& it : reference->items()) ranked_order.push_back(it.item_id());
  // Otherwise the test could not tell ranked from retrieval order.
  ASSERT_NE(ranked_order, retrieval_order) << "the ranker kept retrieval's order for user 2";

  ranking_server_->Stop();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = Recommend("2", 10);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->degraded());
  EXPECT_NE(r->degraded_reason().find("ranking"), std::string::npos);
  EXPECT_EQ(r->ranker(), "retrieval-order");
  ASSERT_EQ(r->items_size(), 10);
  // Retrieval order: the first 10 of retrieval's answer, as the reference
  // request saw it (same user, same model, no interaction in between), in
  // that order, with their retrieval ranks.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(r->items(i).item_id(), retrieval_order[i]) << "position " << i;
    EXPECT_EQ(r->items(i).retrieval_rank(), i);
  }
  EXPECT_LT(took, 2000ms);  // within the total budget
  EXPECT_EQ(gateway_metrics_->degraded_ranking->Value(), 1);
}

TEST_F(RecommendE2E, RetrievalDownMeansTrending) {
  retrieval_server_->Stop();
  auto r = Recommend("1", 10);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->degraded());
  EXPECT_NE(r->degraded_reason().find("retrieval"), std::string::npos);
  ASSERT_GT(r->items_size(), 0);
  for (const auto& it : r->items()) EXPECT_EQ(it.source(), "fallback");
  EXPECT_EQ(gateway_metrics_->degraded_retrieval->Value(), 1);
}

// The fallback costs no remote call: with retrieval and ingestion both
// gone, the gateway still answers from the trending list in its memory.
TEST_F(RecommendE2E, RetrievalAndIngestionDownMeansTheInMemoryFallback) {
  auto list = gateway_->fallback();
  ASSERT_NE(list, nullptr);
  ASSERT_GE(list->size(), 10u);
  retrieval_server_->Stop();
  ingestion_server_->Stop();
  auto r = Recommend("1", 10);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->degraded());
  EXPECT_NE(r->degraded_reason().find("retrieval failed"), std::string::npos)
      << r->degraded_reason();
  ASSERT_EQ(r->items_size(), 10);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(r->items(i).source(), "fallback");
    EXPECT_EQ(r->items(i).item_id(), (*list)[i].item_id());  // the list, in its order
  }
  EXPECT_EQ(gateway_metrics_->degraded_retrieval->Value(), 1);
}

}  // namespace
}  // namespace recstack
