// The gateway's pages against the stack: every service in-process on
// loopback gRPC with one real redis-server, MovieLens 100K ingested and
// trained twice (v1, then v2 which serves). Headless chromium loads `/` and
// `/models`, runs their scripts against the gateway's HTTP server and dumps
// the DOM; the tests assert on it (items rendered, the stage waterfall, the
// serving version marked), on the browser's console (the pages log
// nothing: any console line is a failure), and write a screenshot of each
// page to the build dir.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/grpc/channel.h"
#include "common/ranking/redis_feature_source.h"
#include "services/gateway/gateway.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/http_server.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/redis_event_storage.h"
#include "services/ranking/ranking_service.h"
#include "services/retrieval/retrieval_service.h"
#include "services/training/training_service.h"
#include "tests/support/browser/chromium.h"
#include "tests/support/data/movielens_events.h"
#include "tests/support/grpc/in_process_server.h"
#include "tests/support/redis/redis_server.h"

namespace recstack {
namespace {

using namespace std::chrono_literals;

// What one headless run left: the DOM after the scripts ran, and the
// browser's console lines.
struct Rendered {
  std::string dom;
  std::vector<std::string> console;
};

class PagesE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<redis::Pool>(redis_.options(), 8);
    registry_ = std::make_shared<prometheus::Registry>();
    // Ingestion, with MovieLens 100K in it.
    storage_ = std::make_unique<ingestion::RedisEventStorage>(*pool_, redis_.keyspace());
    store_ = std::make_unique<ingestion::EventStore>(*storage_, ingestion::StoreOptions{}, clock_);
    ingestion_ = std::make_unique<ingestion::IngestionServiceImpl>(
        *store_, clock_, events::ValidationLimits{}, *registry_);
    ingestion_server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{ingestion_.get()});
    LoadMovieLens();
    // Training: two small implicit-ALS runs with a held-out split (so the
    // versions have metrics); v2 serves.
    dir_ = std::filesystem::temp_directory_path() /
           ("recstack-pages-e2e-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    models_ = std::make_unique<model::ModelStore>(*pool_, redis_.keyspace());
    event_log_ = std::make_unique<training::EventLog>(*pool_, redis_.keyspace(), dir_.string());
    ASSERT_TRUE(event_log_->Open().ok());
    runner_ = std::make_unique<training::JobRunner>(*event_log_, *models_, clock_,
                                                    training::RunnerOptions{});
    for (int factors : {8, 16}) {
      training::JobSpec spec;
      spec.config.als = {
          .factors = factors, .iterations = 3, .regularization = 5.0f, .alpha = 0.3f};
      spec.split = "stratified:0.8";
      auto job = runner_->Start(spec);
      ASSERT_TRUE(job.ok()) << job.status();
      auto done = runner_->Wait(job->id, 120s);
      ASSERT_TRUE(done.ok() && done->state == training::JobState::kSucceeded) << done->error;
    }
    training_metrics_ = std::make_unique<training::TrainingMetrics>(*registry_);
    training_ =
        std::make_unique<training::TrainingServiceImpl>(*runner_, *models_, *training_metrics_);
    training_server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{training_.get()});
    // Retrieval.
    holder_ = std::make_unique<retrieval::ModelHolder>(
        *models_, redis_.options(), redis_.keyspace(), retrieval::HolderOptions{});
    holder_->Start();
    ASSERT_NE(holder_->Current(), nullptr);
    ASSERT_EQ(holder_->Current()->meta.version, "v2");
    retrieval_source_ =
        std::make_unique<retrieval::RedisRetrievalSource>(*pool_, *models_, redis_.keyspace());
    retriever_ = std::make_unique<retrieval::Retriever>(*holder_, *retrieval_source_, clock_,
                                                        retrieval::RetrieverOptions{});
    retriever_->Start();
    retrieval_metrics_ = std::make_unique<retrieval::RetrievalMetrics>(*registry_);
    retrieval_handler_ =
        std::make_unique<retrieval::RetrievalHandler>(*retriever_, *retrieval_metrics_);
    retrieval_ = std::make_unique<retrieval::RetrievalServiceImpl>(*retrieval_handler_);
    retrieval_server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{retrieval_.get()});
    // Ranking.
    feature_source_ = std::make_unique<ranking::RedisFeatureSource>(*pool_, redis_.keyspace());
    features_ = std::make_unique<ranking::FeatureAssembler>(*feature_source_, clock_);
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
    // The gateway, with every backend, behind HTTP.
    gateway_metrics_ = std::make_unique<gateway::GatewayMetrics>(*registry_);
    gateway::GatewayOptions go;
    go.retrieval_budget = 1000ms;  // generous: the browser shares the 2 cores
    go.ranking_budget = 1000ms;
    go.total_budget = 3000ms;
    go.log_impressions = false;
    gateway_ =
        std::make_unique<gateway::Gateway>(std::make_unique<gateway::GrpcRetrievalBackend>(
                                               grpcutil::MakeChannel(retrieval_server_->address())),
                                           std::make_unique<gateway::GrpcRankingBackend>(
                                               grpcutil::MakeChannel(ranking_server_->address())),
                                           std::make_unique<gateway::GrpcIngestionBackend>(
                                               grpcutil::MakeChannel(ingestion_server_->address())),
                                           std::make_unique<gateway::GrpcTrainingBackend>(
                                               grpcutil::MakeChannel(training_server_->address())),
                                           go, *gateway_metrics_);
    ASSERT_TRUE(gateway_->StartFallbackRefresh().ok());
    http_ = std::make_unique<gateway::HttpServer>(*gateway_, [] { return true; });
    ASSERT_TRUE(http_->Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_->port());
    client_->set_read_timeout(10, 0);
  }

  void TearDown() override {
    if (http_) http_->Stop();
    gateway_.reset();
    ranking_server_.reset();
    retrieval_server_.reset();
    training_server_.reset();
    if (holder_) holder_->Stop();
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

  // One bounded headless run of `path` ("--dump-dom" or
  // "--screenshot=FILE"); fails the test if it cannot run.
  Rendered RunChromium(const std::string& path, const std::string& mode) {
    testing::BrowserRun run = testing::RunChromium(
        Url() + path, mode,
        "--virtual-time-budget=10000 --window-size=1280,1800 --hide-scrollbars");
    if (!run.ran) ADD_FAILURE() << run.error;
    return {std::move(run.output), std::move(run.console)};
  }

  // The DOM of `path` after its scripts ran (without the scripts' text),
  // its console lines in `console`; a screenshot to the build dir when
  // `screenshot` is not empty.
  std::string RenderedDom(const std::string& path, std::vector<std::string>* console,
                          const std::string& screenshot = "") {
    Rendered r = RunChromium(path, "--dump-dom");
    EXPECT_NE(r.dom.find("data-state=\"done\""), std::string::npos)
        << "the page's script did not finish:\n"
        << r.dom;
    r.dom = testing::StripScripts(std::move(r.dom));
    *console = std::move(r.console);
    if (!screenshot.empty()) {
      const std::filesystem::path file =
          std::filesystem::path(RECSTACK_SCREENSHOT_DIR) / screenshot;
      std::filesystem::remove(file);
      RunChromium(path, "--screenshot=" + file.string());
      EXPECT_TRUE(std::filesystem::exists(file) && std::filesystem::file_size(file) > 1000)
          << "no screenshot at " << file;
    }
    return r.dom;
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(http_->port()); }

  nlohmann::json GetJson(const std::string& path, int want_status) {
    auto res = client_->Get(path);
    EXPECT_TRUE(res) << path;
    if (!res) return {};
    EXPECT_EQ(res->status, want_status) << path << ": " << res->body;
    return nlohmann::json::parse(res->body, nullptr, false);
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
  std::unique_ptr<training::TrainingMetrics> training_metrics_;
  std::unique_ptr<training::TrainingServiceImpl> training_;
  std::unique_ptr<testing::InProcessServer> training_server_;
  std::unique_ptr<retrieval::ModelHolder> holder_;
  std::unique_ptr<retrieval::RedisRetrievalSource> retrieval_source_;
  std::unique_ptr<retrieval::Retriever> retriever_;
  std::unique_ptr<retrieval::RetrievalMetrics> retrieval_metrics_;
  std::unique_ptr<retrieval::RetrievalHandler> retrieval_handler_;
  std::unique_ptr<retrieval::RetrievalServiceImpl> retrieval_;
  std::unique_ptr<testing::InProcessServer> retrieval_server_;
  std::unique_ptr<ranking::RedisFeatureSource> feature_source_;
  std::unique_ptr<ranking::FeatureAssembler> features_;
  std::unique_ptr<model::ItemVectorsHolder> item_vectors_;
  std::unique_ptr<ranking::RankingEngine> engine_;
  std::unique_ptr<ranking::RankingMetrics> ranking_metrics_;
  std::unique_ptr<ranking::RankingHandler> ranking_handler_;
  std::unique_ptr<ranking::RankingServiceImpl> ranking_;
  std::unique_ptr<testing::InProcessServer> ranking_server_;
  std::unique_ptr<gateway::GatewayMetrics> gateway_metrics_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<gateway::HttpServer> http_;
  std::unique_ptr<httplib::Client> client_;
};

using testing::Count;
using testing::ExpectHas;

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// The JSON routes the pages read.
TEST_F(PagesE2E, ModelUsersAndModelsRoutes) {
  nlohmann::json users = GetJson("/v1/model/users?n=3", 200);
  EXPECT_EQ(users["model_version"], "v2");
  ASSERT_EQ(users["user_ids"].size(), 3u);
  for (const auto& u : users["user_ids"]) {
    auto v = models_->GetUserVector("v2", u.get<std::string>());
    ASSERT_TRUE(v.ok() && v->has_value()) << u;
  }
  EXPECT_EQ(GetJson("/v1/model/users?n=0", 400)["error"]["message"], "n must be 1-100, got 0");
  EXPECT_EQ(GetJson("/v1/model/users?n=x", 400)["error"]["code"], "INVALID_ARGUMENT");

  nlohmann::json m = GetJson("/v1/models", 200);
  EXPECT_EQ(m["current_version"], "v2");
  ASSERT_EQ(m["models"].size(), 2u);
  EXPECT_EQ(m["models"][0]["version"], "v2");  // newest first
  EXPECT_EQ(m["models"][0]["serving"], true);
  EXPECT_EQ(m["models"][0]["slot"], "factors");
  EXPECT_EQ(m["models"][0]["algorithm"], "als-implicit");
  EXPECT_EQ(m["models"][0]["factors"], 16);
  EXPECT_EQ(m["models"][0]["n_users"], 943);
  EXPECT_TRUE(m["models"][0]["metrics"].contains("ndcg@10")) << m.dump();
  EXPECT_EQ(m["models"][1]["version"], "v1");
  EXPECT_EQ(m["models"][1]["serving"], false);
  EXPECT_EQ(m["models"][1]["factors"], 8);

  // The recommendation's debug view: each stage and source says when it
  // started, the stages one after another.
  nlohmann::json r = GetJson("/v1/users/1/recommendations?k=5&debug=true", 200);
  ASSERT_GE(r["stages"].size(), 3u) << r.dump();
  EXPECT_EQ(r["stages"][0]["stage"], "retrieval");
  EXPECT_EQ(r["stages"][1]["stage"], "ranking");
  EXPECT_EQ(r["stages"][2]["stage"], "metadata");
  auto us = [](const nlohmann::json& v) {
    return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
  };
  int64_t end = 0;
  for (const auto& s : r["stages"]) {
    const int64_t start = s.contains("start_us") ? us(s["start_us"]) : 0;
    EXPECT_GE(start, end) << s.dump();
    end = start + (s.contains("duration_us") ? us(s["duration_us"]) : 0);
  }
  EXPECT_GE(us(r["total_us"]), end);
  EXPECT_EQ(r["stages"][0]["sources"].size(), 3u);  // mf, item2item, trending
}

TEST_F(PagesE2E, JourneyOpensOnAUserOfTheServedModelWithAWaterfall) {
  std::vector<std::string> console;
  const std::string dom = RenderedDom("/", &console, "pages_journey.png");
  EXPECT_TRUE(console.empty()) << "console:\n" << Joined(console);
  // The user: one the served model knows, said so.
  ExpectHas(dom, "picked from the served model <b>v2</b>");
  const size_t at = dom.find("<p id=\"picked\" class=\"muted\">user <b>");
  ASSERT_NE(at, std::string::npos) << dom;
  const size_t from = at + std::string("<p id=\"picked\" class=\"muted\">user <b>").size();
  const std::string user = dom.substr(from, dom.find("</b>", from) - from);
  auto v = models_->GetUserVector("v2", user);
  ASSERT_TRUE(v.ok() && v->has_value()) << "not a user of v2: " << user;
  // The recommendation: ten items, ranked by linear, nothing degraded.
  EXPECT_EQ(Count(dom, "<tr class=\"item\">"), 10) << dom;
  ExpectHas(dom, "model <b>v2</b>, ranker <b>linear</b>");
  EXPECT_EQ(dom.find("class=\"deg\""), std::string::npos) << dom;
  // The waterfall: a bar per stage and per retrieval source, and the total.
  for (const char* stage : {"retrieval", "ranking", "metadata"})
    ExpectHas(dom, std::string("<tr class=\"wf-stage\" data-stage=\"") + stage + "\">");
  for (const char* source : {"mf", "item2item", "trending"})
    ExpectHas(dom, std::string("<tr class=\"wf-source\" data-source=\"") + source + "\">");
  EXPECT_EQ(Count(dom, "<div class=\"wf-bar "), 3 + 3 + 1) << dom;
  ExpectHas(dom, "<div class=\"wf-bar ranking\" style=\"left:");
  // Today's tables, and the links to the other pages.
  ExpectHas(dom, "<h2>Candidates per source</h2>");
  ExpectHas(dom, "<h2>Features of every candidate</h2>");
  ExpectHas(dom, "<a href=\"/models\">models</a>");
  ExpectHas(dom, "<a href=\"/experiments\">experiments</a>");
}

TEST_F(PagesE2E, JourneyUserChoosesAndBadUsersAreErrorsOnThePage) {
  std::vector<std::string> console;
  std::string dom = RenderedDom("/?user=1&k=5", &console);
  EXPECT_TRUE(console.empty()) << "console:\n" << Joined(console);
  ExpectHas(dom, "user <b>1</b>, request");
  EXPECT_EQ(Count(dom, "<tr class=\"item\">"), 5) << dom;
  ExpectHas(dom, "<p id=\"picked\" class=\"muted\"></p>");  // chosen, not picked
  // Too long an id: the API's 400 and its reason, as text on the page.
  const std::string long_id(200, 'x');
  EXPECT_EQ(GetJson("/v1/users/" + long_id + "/recommendations", 400)["error"]["message"],
            "user_id is 200 bytes (at most 128)");
  dom = RenderedDom("/?user=" + long_id, &console);
  ExpectHas(dom, "<p class=\"err\">user \"" + long_id +
                     "\": 400 INVALID_ARGUMENT: user_id is 200 bytes (at most 128)</p>");
  EXPECT_EQ(Count(dom, "<tr class=\"item\">"), 0);
  // The browser reports the failed request, and nothing else.
  for (const auto& line : console) EXPECT_NE(line.find("status of 400"), std::string::npos) << line;
  // An empty one, and markup: shown as text.
  dom = RenderedDom("/?user=", &console);
  ExpectHas(dom, "<p class=\"err\">?user= is empty");
  EXPECT_TRUE(console.empty()) << "console:\n" << Joined(console);
  dom = RenderedDom("/?user=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&k=3", &console);
  EXPECT_EQ(dom.find("<img"), std::string::npos) << dom;
  ExpectHas(dom, "user <b>&lt;img src=x onerror=alert(1)&gt;</b>");
}

TEST_F(PagesE2E, ModelsPageMarksTheServingVersion) {
  std::vector<std::string> console;
  const std::string dom = RenderedDom("/models", &console, "pages_models.png");
  EXPECT_TRUE(console.empty()) << "console:\n" << Joined(console);
  ExpectHas(dom, "<section class=\"slot\" data-slot=\"factors\"><h2>factors</h2>");
  ExpectHas(dom, "serving: <b>v2</b>");
  EXPECT_EQ(Count(dom, "<tr class=\"model"), 2) << dom;
  ExpectHas(dom,
            "<tr class=\"model serving\" data-version=\"v2\"><td class=\"l\">v2 <span "
            "class=\"badge\">serving</span></td><td class=\"l\">als-implicit</td>");
  ExpectHas(dom, "<tr class=\"model\" data-version=\"v1\"><td class=\"l\">v1</td>");
  EXPECT_EQ(Count(dom, "class=\"badge\""), 1);
  ExpectHas(dom, "<th>ndcg@10</th>");
  ExpectHas(dom, "<td>943</td><td>1,682</td><td>16</td>");  // users, items, factors
  ExpectHas(dom, "<a href=\"/\">journey</a>");
  ExpectHas(dom, "<a href=\"/experiments\">experiments</a>");
}

}  // namespace
}  // namespace recstack
