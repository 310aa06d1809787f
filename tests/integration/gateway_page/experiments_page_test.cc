// The experiments and models views of the gateway
// (services/gateway/http_server.h) over real HTTP on loopback: GET
// /v1/experiments, GET /v1/experiments/{name} (exactly the CLI's JSON, 404
// for an unknown experiment, 503 without a training backend), GET
// /v1/models, the gRPC backends against in-process fake services, and the
// /experiments and /models pages as a real browser renders them: headless
// chromium loads the page, runs its script against this server and dumps
// the DOM, which must hold the readout's (the versions') numbers, formatted.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/stats/readout_json.h"
#include "common/stats/readout_proto.h"
#include "services/gateway/gateway.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/http_server.h"
#include "tests/support/browser/chromium.h"
#include "tests/support/grpc/in_process_server.h"

namespace recstack::gateway {
namespace {

using namespace std::chrono_literals;

// An experiment name that is markup: the page must show it as text.
constexpr char kMarkupName[] = "<img src=x onerror=alert(1)>";

// "home": A (linear) vs B (gbdt), B better (p = 0.0063), assignment fine.
v1::ExperimentReportResponse HomeReadout() {
  v1::ExperimentReportResponse r;
  r.set_experiment("home");
  r.set_control("A");
  auto variant = [&](const char* name, const char* ranker, int64_t users, int64_t imps,
                     int64_t clicks, double ctr, double lo, double hi) {
    v1::VariantReport* v = r.add_variants();
    v->set_name(name);
    v->set_ranker(ranker);
    v->set_users(users);
    v->set_impressions(imps);
    v->set_clicks(clicks);
    v->set_ctr(ctr);
    v->set_ctr_ci_low(lo);
    v->set_ctr_ci_high(hi);
    v->set_expected_share(0.5);
  };
  variant("A", "linear", 1000, 9000, 450, 0.05, 0.0451, 0.0549);
  variant("B", "gbdt", 1010, 9100, 546, 0.06, 0.0547, 0.0653);
  v1::ComparisonReport* c = r.add_comparisons();
  c->set_variant("B");
  c->set_control("A");
  c->set_abs_lift(0.01);
  c->set_abs_lift_ci_low(0.0028);
  c->set_abs_lift_ci_high(0.0172);
  c->set_rel_lift(0.2);
  c->set_rel_lift_ci_low(0.052);
  c->set_rel_lift_ci_high(0.371);
  c->set_p_value(0.0063);
  c->set_mde_rel(0.153);
  r.set_srm_chi2(0.05);
  r.set_srm_p_value(0.8231);
  r.set_mde_rel(0.153);
  return r;
}

// "fresh": a broken split (SRM p = 1.54e-8) and a control without clicks,
// so the relative lift is undefined and its interval unbounded.
v1::ExperimentReportResponse FreshReadout() {
  const double inf = std::numeric_limits<double>::infinity();
  v1::ExperimentReportResponse r;
  r.set_experiment("fresh");
  r.set_control("C");
  for (auto [name, ranker, users, clicks] :
       {std::tuple{"C", "recency", 10400, 0}, std::tuple{"D", "linear", 9600, 12}}) {
    v1::VariantReport* v = r.add_variants();
    v->set_name(name);
    v->set_ranker(ranker);
    v->set_users(users);
    v->set_impressions(2 * users);
    v->set_clicks(clicks);
    v->set_ctr(clicks / (2.0 * users));
    v->set_expected_share(0.5);
  }
  v1::ComparisonReport* c = r.add_comparisons();
  c->set_variant("D");
  c->set_control("C");
  c->set_abs_lift(0.000625);
  c->set_rel_lift(std::nan(""));
  c->set_rel_lift_ci_low(-inf);
  c->set_rel_lift_ci_high(inf);
  c->set_p_value(0.0005);
  c->set_mde_rel(std::nan(""));
  r.set_srm_chi2(32.0);
  r.set_srm_p_value(1.54e-8);
  r.set_mde_rel(std::nan(""));
  return r;
}

v1::ListRankersResponse RankingExperiments() {
  v1::ListRankersResponse r;
  auto add = [&](const std::string& name, std::vector<std::pair<const char*, const char*>> arms) {
    v1::Experiment* e = r.add_experiments();
    e->set_name(name);
    for (auto [v, ranker] : arms) {
      v1::ExperimentVariant* var = e->add_variants();
      var->set_name(v);
      var->set_ranker(ranker);
      var->set_traffic(1.0 / arms.size());
    }
  };
  add("home", {{"A", "linear"}, {"B", "gbdt"}});
  add("fresh", {{"C", "recency"}, {"D", "linear"}});
  add(kMarkupName, {{"X", "linear"}, {"Y", "recency"}});  // training does not know it
  return r;
}

absl::StatusOr<v1::ExperimentReportResponse> Report(const std::string& name) {
  if (name == "home") return HomeReadout();
  if (name == "fresh") return FreshReadout();
  return absl::NotFoundError("no experiment '" + name + "' in the experiments file");
}

// Three slots' versions, newest first: ease v4 serves; gbdt v3 serves, its
// older v2 does not; the factors v1 serves.
v1::ListModelsResponse ModelList() {
  v1::ListModelsResponse r;
  r.set_current_version("v1");
  auto add = [&](const char* version, v1::Algorithm algorithm, bool current,
                 std::map<std::string, double> metrics) {
    v1::ModelInfo* m = r.add_models();
    m->set_version(version);
    m->set_algorithm(algorithm);
    m->set_current(current);
    m->set_n_items(1682);
    m->set_created_at_ms(1767225600000);
    for (const auto& [k, v] : metrics) (*m->mutable_metrics())[k] = v;
    (*m->mutable_params())["seed"] = "42";
  };
  add("v4", v1::EASE, true, {{"ndcg@10", 0.3125}});
  add("v3", v1::RANKER_GBDT, true, {{"auc", 0.71}});
  add("v2", v1::RANKER_GBDT, false, {{"auc", 0.69}});
  add("v1", v1::ALS_IMPLICIT, true, {{"ndcg@10", 0.2051}});
  r.mutable_models(3)->set_factors(64);
  r.mutable_models(3)->set_n_users(943);
  return r;
}

struct NoRetrieval : RetrievalBackend {
  absl::StatusOr<v1::RetrieveResponse> Retrieve(const v1::RetrieveRequest&, Deadline) override {
    return absl::UnavailableError("not in this test");
  }
  absl::StatusOr<v1::SimilarItemsResponse> SimilarItems(const v1::SimilarItemsRequest&,
                                                        Deadline) override {
    return absl::UnavailableError("not in this test");
  }
  absl::StatusOr<v1::SampleUsersResponse> SampleUsers(const v1::SampleUsersRequest&,
                                                      Deadline) override {
    return absl::UnavailableError("not in this test");
  }
};

struct FakeRanking : RankingBackend {
  absl::StatusOr<v1::RankResponse> Rank(const v1::RankRequest&, Deadline) override {
    return absl::UnavailableError("not in this test");
  }
  absl::StatusOr<v1::ListRankersResponse> ListRankers(const v1::ListRankersRequest&,
                                                      Deadline) override {
    return RankingExperiments();
  }
};

struct NoIngestion : IngestionBackend {
  absl::StatusOr<v1::IngestEventsResponse> IngestEvents(const v1::IngestEventsRequest&,
                                                        Deadline) override {
    return absl::UnavailableError("not in this test");
  }
  absl::StatusOr<v1::GetItemsResponse> GetItems(const v1::GetItemsRequest&, Deadline) override {
    return absl::UnavailableError("not in this test");
  }
  absl::StatusOr<v1::GetTrendingResponse> GetTrending(const v1::GetTrendingRequest&,
                                                      Deadline) override {
    return absl::UnavailableError("not in this test");
  }
};

struct FakeTraining : TrainingBackend {
  absl::StatusOr<v1::ExperimentReportResponse> ExperimentReport(
      const v1::ExperimentReportRequest& req, Deadline) override {
    return Report(req.experiment());
  }
  absl::StatusOr<v1::ListModelsResponse> ListModels(const v1::ListModelsRequest&,
                                                    Deadline) override {
    return ModelList();
  }
};

// The same two services over gRPC, for the Grpc*Backend adapters.
class FakeRankingService final : public v1::RankingService::Service {
  grpc::Status ListRankers(grpc::ServerContext*, const v1::ListRankersRequest*,
                           v1::ListRankersResponse* resp) override {
    *resp = RankingExperiments();
    return grpc::Status::OK;
  }
};

class FakeTrainingService final : public v1::TrainingService::Service {
  grpc::Status ExperimentReport(grpc::ServerContext*, const v1::ExperimentReportRequest* req,
                                v1::ExperimentReportResponse* resp) override {
    auto r = Report(req->experiment());
    if (!r.ok())
      return grpc::Status(grpc::StatusCode::NOT_FOUND, std::string(r.status().message()));
    *resp = *r;
    return grpc::Status::OK;
  }
  grpc::Status ListModels(grpc::ServerContext*, const v1::ListModelsRequest*,
                          v1::ListModelsResponse* resp) override {
    *resp = ModelList();
    return grpc::Status::OK;
  }
};

std::set<std::string> Keys(const nlohmann::json& j) {
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  return keys;
}

// A gateway core with fake backends behind a real HttpServer on 127.0.0.1:0.
class ExperimentsHttp : public ::testing::Test {
 protected:
  void Start(std::unique_ptr<RankingBackend> ranking, std::unique_ptr<TrainingBackend> training) {
    GatewayOptions o;
    o.log_impressions = false;
    gateway_ = std::make_unique<Gateway>(std::make_unique<NoRetrieval>(), std::move(ranking),
                                         std::make_unique<NoIngestion>(), std::move(training), o,
                                         metrics_);
    http_ = std::make_unique<HttpServer>(*gateway_, [] { return true; });
    ASSERT_TRUE(http_->Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_->port());
    client_->set_read_timeout(10, 0);
  }
  void SetUp() override {
    Start(std::make_unique<FakeRanking>(), std::make_unique<FakeTraining>());
  }
  void TearDown() override {
    if (http_) http_->Stop();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(http_->port()); }

  prometheus::Registry registry_;
  GatewayMetrics metrics_{registry_};
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ExperimentsHttp, ListHasTheExperimentsRankingRuns) {
  auto res = client_->Get("/v1/experiments");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  const nlohmann::json j = nlohmann::json::parse(res->body);
  EXPECT_EQ(Keys(j), std::set<std::string>{"experiments"});
  ASSERT_EQ(j["experiments"].size(), 3u);
  const nlohmann::json& home = j["experiments"][0];
  EXPECT_EQ(Keys(home), (std::set<std::string>{"name", "variants"}));
  EXPECT_EQ(home["name"], "home");
  ASSERT_EQ(home["variants"].size(), 2u);
  EXPECT_EQ(Keys(home["variants"][1]), (std::set<std::string>{"name", "ranker", "traffic"}));
  EXPECT_EQ(home["variants"][1]["name"], "B");
  EXPECT_EQ(home["variants"][1]["ranker"], "gbdt");
  EXPECT_DOUBLE_EQ(home["variants"][1]["traffic"].get<double>(), 0.5);
  EXPECT_EQ(j["experiments"][2]["name"], kMarkupName);
}

TEST_F(ExperimentsHttp, ReadoutIsExactlyTheCliJson) {
  auto res = client_->Get("/v1/experiments/home");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const nlohmann::json j = nlohmann::json::parse(res->body);
  // The one shape `recstack experiment report --json` prints.
  EXPECT_EQ(j, stats::ReadoutReportJson(stats::ReadoutFromProto(HomeReadout())));
  EXPECT_EQ(Keys(j), (std::set<std::string>{"experiment", "control", "variants", "comparisons",
                                            "srm_chi2", "srm_p_value", "mde_rel"}));
  EXPECT_EQ(j["control"], "A");
  ASSERT_EQ(j["variants"].size(), 2u);
  EXPECT_EQ(Keys(j["variants"][0]),
            (std::set<std::string>{"name", "ranker", "users", "impressions", "clicks", "ctr",
                                   "ctr_ci", "user_variance"}));
  EXPECT_EQ(j["variants"][1]["users"], 1010);
  EXPECT_DOUBLE_EQ(j["variants"][1]["ctr_ci"][1].get<double>(), 0.0653);
  ASSERT_EQ(j["comparisons"].size(), 1u);
  EXPECT_EQ(Keys(j["comparisons"][0]),
            (std::set<std::string>{"variant", "control", "abs_lift", "abs_lift_ci", "rel_lift",
                                   "rel_lift_ci", "p_value", "mde_rel"}));
  EXPECT_DOUBLE_EQ(j["comparisons"][0]["p_value"].get<double>(), 0.0063);
  // NaN and infinities are null; a name is URL-decoded.
  auto fresh = client_->Get("/v1/experiments/fr%65sh");
  ASSERT_TRUE(fresh);
  ASSERT_EQ(fresh->status, 200) << fresh->body;
  const nlohmann::json f = nlohmann::json::parse(fresh->body);
  EXPECT_TRUE(f["comparisons"][0]["rel_lift"].is_null());
  EXPECT_TRUE(f["comparisons"][0]["rel_lift_ci"][0].is_null());
  EXPECT_TRUE(f["mde_rel"].is_null());
  EXPECT_DOUBLE_EQ(f["srm_p_value"].get<double>(), 1.54e-8);
}

TEST_F(ExperimentsHttp, UnknownExperimentIs404WithTheErrorJson) {
  auto res = client_->Get("/v1/experiments/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  const nlohmann::json j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["error"]["code"], "NOT_FOUND");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("no experiment 'nope'"),
            std::string::npos);
}

TEST_F(ExperimentsHttp, WrongMethodIs405) {
  for (const char* path : {"/v1/experiments", "/v1/experiments/home"}) {
    auto res = client_->Post(path, "{}", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 405) << path;
    EXPECT_EQ(res->get_header_value("Allow"), "GET");
  }
}

TEST_F(ExperimentsHttp, WithoutATrainingBackendBothAre503) {
  http_->Stop();
  Start(std::make_unique<FakeRanking>(), nullptr);
  for (const char* path : {"/v1/experiments", "/v1/experiments/home"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503) << path;
    const nlohmann::json j = nlohmann::json::parse(res->body);
    EXPECT_EQ(j["error"]["code"], "UNAVAILABLE");
    EXPECT_NE(j["error"]["message"].get<std::string>().find("no --training-addr"),
              std::string::npos);
  }
}

TEST_F(ExperimentsHttp, WithoutATrainingBackendModelsAre503) {
  http_->Stop();
  Start(std::make_unique<FakeRanking>(), nullptr);
  auto res = client_->Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  const nlohmann::json j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["error"]["code"], "UNAVAILABLE");
  EXPECT_EQ(j["error"]["message"],
            "no --training-addr: the gateway has no training service to list models from");
}

TEST_F(ExperimentsHttp, ThePageIsSelfContainedHtml) {
  auto res = client_->Get("/experiments");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(res->body.find("/v1/experiments"), std::string::npos);
  for (const char* external : {"src=\"http", "href=\"http", "@import", "<link"})
    EXPECT_EQ(res->body.find(external), std::string::npos) << external;
}

// The three pages: self-contained, each linking the other two.
TEST_F(ExperimentsHttp, EveryPageIsSelfContainedAndLinksTheOthers) {
  for (const char* page : {"/", "/models", "/experiments"}) {
    auto res = client_->Get(page);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << page;
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
    for (const char* external :
         {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "<link", "<script src"})
      EXPECT_EQ(res->body.find(external), std::string::npos) << page << ": " << external;
    for (const char* link : {"href=\"/\"", "href=\"/models\"", "href=\"/experiments\""})
      EXPECT_NE(res->body.find(link), std::string::npos) << page << ": " << link;
  }
}

TEST(ExperimentsOverGrpc, TheGrpcBackendsCarryTheListTheReadoutAndNotFound) {
  FakeRankingService ranking;
  FakeTrainingService training;
  testing::InProcessServer server({&ranking, &training});
  prometheus::Registry registry;
  GatewayMetrics metrics(registry);
  GatewayOptions o;
  o.log_impressions = false;
  Gateway gw(std::make_unique<NoRetrieval>(),
             std::make_unique<GrpcRankingBackend>(server.channel()),
             std::make_unique<NoIngestion>(),
             std::make_unique<GrpcTrainingBackend>(server.channel()), o, metrics);
  HttpServer http(gw, [] { return true; });
  ASSERT_TRUE(http.Start("127.0.0.1:0").ok());
  httplib::Client client("127.0.0.1", http.port());
  auto list = client.Get("/v1/experiments");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_EQ(nlohmann::json::parse(list->body)["experiments"].size(), 3u);
  auto home = client.Get("/v1/experiments/home");
  ASSERT_TRUE(home);
  EXPECT_EQ(home->status, 200);
  EXPECT_EQ(nlohmann::json::parse(home->body),
            stats::ReadoutReportJson(stats::ReadoutFromProto(HomeReadout())));
  auto unknown = client.Get("/v1/experiments/nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  // The model versions: each with its slot and whether that slot serves it.
  auto models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200) << models->body;
  const nlohmann::json m = nlohmann::json::parse(models->body);
  EXPECT_EQ(m["current_version"], "v1");
  ASSERT_EQ(m["models"].size(), 4u);
  EXPECT_EQ(m["models"][0],
            nlohmann::json::parse(R"({"version": "v4", "algorithm": "ease", "slot": "ease",
              "serving": true, "created_at_ms": 1767225600000, "n_users": 0, "n_items": 1682,
              "factors": 0, "metrics": {"ndcg@10": 0.3125}, "params": {"seed": "42"}})"));
  for (auto [i, slot, serving] : {std::tuple{1, "gbdt", true}, std::tuple{2, "gbdt", false},
                                  std::tuple{3, "factors", true}}) {
    EXPECT_EQ(m["models"][i]["slot"], slot) << i;
    EXPECT_EQ(m["models"][i]["serving"], serving) << i;
  }
  EXPECT_EQ(m["models"][3]["algorithm"], "als-implicit");
  http.Stop();
}

// Headless chromium: the page, its script and its fetches against the
// server, run to completion; what it prints is the DOM after that.
class ExperimentsPage : public ExperimentsHttp {
 protected:
  // The DOM of `path` after its scripts ran; fails the test if it cannot.
  std::string RenderedDom(const std::string& path) {
    testing::BrowserRun run =
        testing::RunChromium(Url() + path, "--dump-dom", "--virtual-time-budget=5000");
    if (!run.ran) {
      ADD_FAILURE() << run.error;
      return "";
    }
    EXPECT_NE(run.output.find("data-state=\"done\""), std::string::npos)
        << "the page's script did not finish:\n"
        << run.output;
    return testing::StripScripts(std::move(run.output));
  }
};

using testing::Count;
using testing::ExpectHas;

TEST_F(ExperimentsPage, RendersEveryReadoutWithItsNumbers) {
  const std::string dom = RenderedDom("/experiments");
  if (dom.empty()) return;
  // home: the variant rows (users, impressions, clicks, CTR and its CI).
  ExpectHas(dom,
            "<tr class=\"variant\"><td class=\"l\">A</td><td class=\"l\">linear</td><td>1,000</td>"
            "<td>49.8% (50.0%)</td><td>9,000</td><td>450</td><td>0.0500</td>"
            "<td>[0.0451, 0.0549]</td></tr>");
  ExpectHas(dom,
            "<tr class=\"variant\"><td class=\"l\">B</td><td class=\"l\">gbdt</td><td>1,010</td>"
            "<td>50.2% (50.0%)</td><td>9,100</td><td>546</td><td>0.0600</td>"
            "<td>[0.0547, 0.0653]</td></tr>");
  // The comparison: absolute and relative lift with CIs, p-value, MDE.
  ExpectHas(dom,
            "<tr class=\"comparison\"><td class=\"l\">B vs A</td><td>+1.00 pp</td>"
            "<td>[+0.28 pp, +1.72 pp]</td><td class=\"sig\">+20.0%</td><td>[+5.2%, +37.1%]</td>"
            "<td class=\"sig\">0.0063</td><td>15.3%</td></tr>");
  ExpectHas(dom, "sample ratio mismatch: chi² = 0.05, p = 0.8231");
  // fresh: undefined and unbounded values, and the SRM warning.
  ExpectHas(dom, "n/a</td><td>[−∞, +∞]</td>");
  ExpectHas(dom, "<p class=\"srm-warn\">SAMPLE RATIO MISMATCH (p = 1.54e-8 &lt; 0.001)");
  EXPECT_EQ(dom.find("srm-warn\">SAMPLE RATIO MISMATCH (p = 0.8231"), std::string::npos);
  // The experiment training does not know: its error as text, its markup
  // name escaped (no element made of it).
  ExpectHas(dom,
            "GET /v1/experiments/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E: 404 NOT_FOUND: "
            "no experiment '&lt;img src=x onerror=alert(1)&gt;'");
  EXPECT_EQ(dom.find("<img"), std::string::npos);
  // Only one warning: home's split is fine.
  const size_t first = dom.find("class=\"srm-warn\"");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(dom.find("class=\"srm-warn\"", first + 1), std::string::npos);
}

TEST_F(ExperimentsPage, NameShowsOneExperimentAndUnknownNamesSayNotFound) {
  const std::string dom = RenderedDom("/experiments?name=home");
  if (dom.empty()) return;
  ExpectHas(dom, "<td>0.0500</td><td>[0.0451, 0.0549]</td>");
  EXPECT_EQ(dom.find("SAMPLE RATIO MISMATCH"), std::string::npos);  // fresh is not shown
  EXPECT_EQ(dom.find("<h2>fresh</h2>"), std::string::npos);
  const std::string unknown = RenderedDom("/experiments?name=nope");
  ExpectHas(unknown, "<h2>nope</h2>");
  ExpectHas(unknown, "404 NOT_FOUND: no experiment 'nope'");
}

TEST_F(ExperimentsPage, TheModelsPageShowsEachSlotAndWhatItServes) {
  const std::string dom = RenderedDom("/models");
  if (dom.empty()) return;
  // Slots in a fixed order, each with its versions and metrics.
  const size_t factors = dom.find("<section class=\"slot\" data-slot=\"factors\">");
  const size_t ease = dom.find("<section class=\"slot\" data-slot=\"ease\">");
  const size_t gbdt = dom.find("<section class=\"slot\" data-slot=\"gbdt\">");
  ASSERT_NE(factors, std::string::npos) << dom;
  ASSERT_NE(ease, std::string::npos) << dom;
  ASSERT_NE(gbdt, std::string::npos) << dom;
  EXPECT_LT(factors, ease);
  EXPECT_LT(ease, gbdt);
  EXPECT_EQ(dom.find("data-slot=\"logistic\""), std::string::npos);  // no version there
  ExpectHas(dom,
            "<tr class=\"model serving\" data-version=\"v1\"><td class=\"l\">v1 <span "
            "class=\"badge\">serving</span></td><td class=\"l\">als-implicit</td>"
            "<td class=\"l\">2026-01-01 00:00</td><td>943</td><td>1,682</td><td>64</td>"
            "<td>0.2051</td><td class=\"l muted\"><details><summary>1 param</summary>seed=42"
            "</details></td></tr>");
  ExpectHas(dom, "<tr class=\"model serving\" data-version=\"v3\">");
  ExpectHas(dom, "<tr class=\"model\" data-version=\"v2\"><td class=\"l\">v2</td>");
  ExpectHas(dom, "<th>auc</th>");
  ExpectHas(dom, "<td>0.7100</td>");
  EXPECT_EQ(Count(dom, "class=\"badge\""), 3);
}

TEST_F(ExperimentsPage, TheModelsPageWithoutATrainingBackendSaysSo) {
  http_->Stop();
  Start(std::make_unique<FakeRanking>(), nullptr);
  const std::string dom = RenderedDom("/models");
  if (dom.empty()) return;
  ExpectHas(dom,
            "<p class=\"err\">GET /v1/models: 503 UNAVAILABLE: no --training-addr: the gateway "
            "has no training service to list models from</p>");
}

TEST_F(ExperimentsPage, ErrorsOfTheListAreShownAsText) {
  http_->Stop();
  Start(std::make_unique<FakeRanking>(), nullptr);
  const std::string dom = RenderedDom("/experiments");
  if (dom.empty()) return;
  ExpectHas(dom, "<p class=\"err\">GET /v1/experiments: 503 UNAVAILABLE: no --training-addr");
}

}  // namespace
}  // namespace recstack::gateway
