// The gateway core without sockets: fakes of the four backends (what each
// returns, what each was asked and with which deadline), a real limiter and
// real metrics. Each test checks one rule of services/gateway/gateway.h.
#include "services/gateway/gateway.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/events/event.h"
#include "common/overload/call_scope.h"
#include "common/rank/features.h"
#include "services/gateway/http_server.h"
#include "tests/support/http/percent_encode.h"

#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace recstack::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

v1::ScoredItem Item(const std::string& id, double score, const std::string& source = "mf") {
  v1::ScoredItem s;
  s.set_item_id(id);
  s.set_score(score);
  s.set_source(source);
  s.mutable_explanation()->set_reason("because " + id);
  return s;
}

struct FakeRetrieval : RetrievalBackend {
  absl::StatusOr<v1::RetrieveResponse> Retrieve(const v1::RetrieveRequest& req,
                                                Deadline deadline) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(req);
    deadlines.push_back(deadline);
    if (!status.ok()) return status;
    v1::RetrieveResponse r;
    for (int i = 0; i < candidates; ++i)
      *r.add_candidates() = Item("c" + std::to_string(i), candidates - i);
    r.set_model_version("v7");
    return r;
  }
  absl::StatusOr<v1::SimilarItemsResponse> SimilarItems(const v1::SimilarItemsRequest&,
                                                        Deadline deadline) override {
    std::lock_guard<std::mutex> lock(mu);
    deadlines.push_back(deadline);
    return v1::SimilarItemsResponse();
  }
  absl::StatusOr<v1::SampleUsersResponse> SampleUsers(const v1::SampleUsersRequest&,
                                                      Deadline) override {
    return absl::UnavailableError("not in this test");
  }
  std::mutex mu;
  absl::Status status;
  int candidates = 30;
  std::vector<v1::RetrieveRequest> calls;
  std::vector<Deadline> deadlines;
};

struct FakeRanking : RankingBackend {
  absl::StatusOr<v1::RankResponse> Rank(const v1::RankRequest& req, Deadline deadline) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(req);
    deadlines.push_back(deadline);
    if (!status.ok()) return status;
    // Reverses the candidates and keeps k: an order retrieval did not give.
    v1::RankResponse r;
    for (int i = req.candidates_size() - 1; i >= 0 && r.items_size() < req.k(); --i) {
      v1::ScoredItem s = Item(req.candidates(i).item_id(), 100 - r.items_size());
      s.mutable_explanation()->clear_reason();
      // The feature vector it was "scored" with: its ranked position first.
      s.add_features(static_cast<float>(r.items_size()));
      for (int f = 1; f < ranking::kNumFeatures; ++f) s.add_features(0.5f * f);
      *r.add_items() = s;
    }
    // Ranking's own metadata for the items it knows (those whose id is
    // in `with_metadata`).
    for (auto& item : *r.mutable_items()) {
      if (!with_metadata.count(item.item_id())) continue;
      item.mutable_item()->set_item_id(item.item_id());
      item.mutable_item()->set_title("Ranking's title of " + item.item_id());
    }
    if (!degraded_reason.empty()) {
      r.set_degraded(true);
      r.set_degraded_reason(degraded_reason);
    }
    r.set_feature_schema(ranking::kFeatureSchema);
    r.set_ranker("linear");
    r.set_experiment("exp");
    r.set_variant("B");
    return r;
  }
  absl::StatusOr<v1::ListRankersResponse> ListRankers(const v1::ListRankersRequest&,
                                                      Deadline deadline) override {
    std::lock_guard<std::mutex> lock(mu);
    deadlines.push_back(deadline);
    if (!status.ok()) return status;
    v1::ListRankersResponse r;
    v1::Experiment* e = r.add_experiments();
    e->set_name("home");
    for (const char* v : {"A", "B"}) {
      v1::ExperimentVariant* var = e->add_variants();
      var->set_name(v);
      var->set_ranker(std::string(v) == "A" ? "linear" : "gbdt");
      var->set_traffic(0.5);
    }
    return r;
  }
  std::mutex mu;
  absl::Status status;
  std::string degraded_reason;  // set: answers as a ranker that fell back
  std::set<std::string> with_metadata;
  std::vector<v1::RankRequest> calls;
  std::vector<Deadline> deadlines;
};

// Knows the experiment "home" only; answers its readout from the wire form.
struct FakeTraining : TrainingBackend {
  absl::StatusOr<v1::ListModelsResponse> ListModels(const v1::ListModelsRequest&,
                                                    Deadline) override {
    return absl::UnavailableError("not in this test");
  }
  absl::StatusOr<v1::ExperimentReportResponse> ExperimentReport(
      const v1::ExperimentReportRequest& req, Deadline deadline) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(req);
    deadlines.push_back(deadline);
    if (req.experiment() != "home")
      return absl::NotFoundError("no experiment '" + req.experiment() + "'");
    v1::ExperimentReportResponse r;
    r.set_experiment("home");
    r.set_control("A");
    v1::VariantReport* a = r.add_variants();
    a->set_name("A");
    a->set_users(100);
    a->set_ctr(0.05);
    v1::ComparisonReport* c = r.add_comparisons();
    c->set_variant("B");
    c->set_control("A");
    c->set_rel_lift(0.2);
    r.set_srm_p_value(0.5);
    return r;
  }
  std::mutex mu;
  std::vector<v1::ExperimentReportRequest> calls;
  std::vector<Deadline> deadlines;
};

struct FakeIngestion : IngestionBackend {
  absl::StatusOr<v1::IngestEventsResponse> IngestEvents(const v1::IngestEventsRequest& req,
                                                        Deadline) override {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& e : req.events()) events.push_back(e);
    batches.push_back(req.events_size());
    v1::IngestEventsResponse r;
    r.set_accepted(req.events_size());
    return r;
  }
  absl::StatusOr<v1::GetItemsResponse> GetItems(const v1::GetItemsRequest& req, Deadline) override {
    std::lock_guard<std::mutex> lock(mu);
    ++get_items_calls;
    v1::GetItemsResponse r;
    for (const auto& id : req.item_ids()) {
      if (id == "unknown") continue;
      v1::Item* it = r.add_items();
      it->set_item_id(id);
      it->set_title("Title of " + id);
    }
    return r;
  }
  absl::StatusOr<v1::GetTrendingResponse> GetTrending(const v1::GetTrendingRequest& req,
                                                      Deadline) override {
    std::lock_guard<std::mutex> lock(mu);
    if (!trending_status.ok()) return trending_status;
    v1::GetTrendingResponse r;
    for (int i = 0; i < std::min(req.k(), 50); ++i)
      *r.add_items() = Item("t" + std::to_string(i), 50 - i, "trending");
    return r;
  }
  std::mutex mu;
  absl::Status trending_status;
  std::vector<v1::Event> events;
  std::vector<int> batches;  // events per IngestEvents call
  int get_items_calls = 0;
};

class GatewayCore : public ::testing::Test {
 protected:
  void Make(GatewayOptions o = {}, overload::ConcurrencyLimiter* limiter = nullptr,
            bool with_training = true) {
    auto r = std::make_unique<FakeRetrieval>();
    auto k = std::make_unique<FakeRanking>();
    auto i = std::make_unique<FakeIngestion>();
    auto t = with_training ? std::make_unique<FakeTraining>() : nullptr;
    retrieval_ = r.get();
    ranking_ = k.get();
    ingestion_ = i.get();
    training_ = t.get();
    gateway_ = std::make_unique<Gateway>(std::move(r), std::move(k), std::move(i), std::move(t), o,
                                         metrics_, limiter);
  }
  v1::RecommendRequest Req(const std::string& user, int k) {
    v1::RecommendRequest req;
    req.set_user_id(user);
    req.set_k(k);
    return req;
  }
  double Degraded(const char* reason) {
    prometheus::Counter* c = std::string(reason) == "retrieval" ? metrics_.degraded_retrieval
                             : std::string(reason) == "ranking" ? metrics_.degraded_ranking
                                                                : metrics_.degraded_overload;
    return c->Value();
  }

  prometheus::Registry registry_;
  GatewayMetrics metrics_{registry_};
  FakeRetrieval* retrieval_ = nullptr;
  FakeRanking* ranking_ = nullptr;
  FakeIngestion* ingestion_ = nullptr;
  FakeTraining* training_ = nullptr;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayCore, RetrievalThenRankingKeepsRetrievalReasonsAndAddsTitles) {
  Make();
  auto r = gateway_->Recommend(Req("u1", 5), Clock::now() + 1s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->degraded());
  ASSERT_EQ(r->items_size(), 5);
  // Ranking's order (the fake reverses retrieval's 30 candidates).
  ASSERT_EQ(retrieval_->calls.size(), 1u);
  EXPECT_EQ(retrieval_->calls[0].k(), 50);  // clamp(5k, min_candidates, max_candidates)
  EXPECT_EQ(r->items(0).item_id(), "c29");
  EXPECT_EQ(r->items(0).explanation().reason(), "because c29");
  EXPECT_EQ(r->items(0).item().title(), "Title of c29");
  EXPECT_EQ(r->model_version(), "v7");
  EXPECT_EQ(r->ranker(), "linear");
  EXPECT_EQ(r->variant(), "B");
  EXPECT_EQ(r->request_id().size(), 16u);
}

TEST_F(GatewayCore, RankingFailureServesRetrievalOrderDegraded) {
  Make();
  ranking_->status = absl::UnavailableError("ranking down");
  auto r = gateway_->Recommend(Req("u1", 4), Clock::now() + 1s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->degraded());
  EXPECT_NE(r->degraded_reason().find("ranking failed (ranking down)"), std::string::npos)
      << r->degraded_reason();
  EXPECT_EQ(r->ranker(), "retrieval-order");
  ASSERT_EQ(r->items_size(), 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r->items(i).item_id(), "c" + std::to_string(i));
  EXPECT_EQ(Degraded("ranking"), 1);
}

TEST_F(GatewayCore, RetrievalFailureServesTheInMemoryTrendingList) {
  Make();
  ASSERT_TRUE(gateway_->StartFallbackRefresh().ok());
  retrieval_->status = absl::DeadlineExceededError("too slow");
  auto r = gateway_->Recommend(Req("u1", 3), Clock::now() + 1s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->degraded());
  EXPECT_EQ(r->ranker(), "fallback");
  ASSERT_EQ(r->items_size(), 3);
  EXPECT_EQ(r->items(0).item_id(), "t0");
  EXPECT_EQ(r->items(0).source(), "fallback");
  EXPECT_TRUE(ranking_->calls.empty());  // no ranking without candidates
  EXPECT_EQ(Degraded("retrieval"), 1);
}

TEST_F(GatewayCore, NothingToServeIsUnavailable) {
  Make();
  ingestion_->trending_status = absl::UnavailableError("ingestion down");
  EXPECT_FALSE(gateway_->StartFallbackRefresh().ok());
  retrieval_->status = absl::UnavailableError("retrieval down");
  auto r = gateway_->Recommend(Req("u1", 3), Clock::now() + 1s);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(GatewayCore, CallersMistakesAreInvalidArgumentAndReachNoBackendWhenLocal) {
  Make();
  EXPECT_EQ(gateway_->Recommend(Req("", 3), Clock::now() + 1s).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gateway_->Recommend(Req(std::string("a\x01", 2), 3), Clock::now() + 1s).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gateway_->Recommend(Req("u1", 1001), Clock::now() + 1s).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(retrieval_->calls.empty());
  // Retrieval's INVALID_ARGUMENT is the caller's too: passed on, not degraded.
  retrieval_->status = absl::InvalidArgumentError("bad exclude");
  EXPECT_EQ(gateway_->Recommend(Req("u1", 3), Clock::now() + 1s).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Degraded("retrieval"), 0);
}

TEST_F(GatewayCore, NoStageDeadlinePassesTheCallersDeadline) {
  GatewayOptions o;
  o.retrieval_budget = 80ms;
  o.ranking_budget = 40ms;
  o.total_budget = 150ms;
  Make(o);
  // A caller deadline shorter than every budget bounds every stage.
  const auto tight = Clock::now() + 20ms;
  ASSERT_TRUE(gateway_->Recommend(Req("u1", 5), tight).ok());
  ASSERT_EQ(retrieval_->deadlines.size(), 1u);
  ASSERT_EQ(ranking_->deadlines.size(), 1u);
  EXPECT_LE(retrieval_->deadlines[0], tight);
  EXPECT_LE(ranking_->deadlines[0], tight);
  // A generous caller deadline: each stage gets at most its budget.
  const auto before = Clock::now();
  ASSERT_TRUE(gateway_->Recommend(Req("u1", 5), before + 10s).ok());
  EXPECT_LE(retrieval_->deadlines[1], Clock::now() + 80ms);
  EXPECT_LE(ranking_->deadlines[1], Clock::now() + 40ms);
  EXPECT_LE(retrieval_->deadlines[1], before + 10s);
}

TEST_F(GatewayCore, AtItsOwnLimitTheGatewayAnswersTheFallbackWithoutRemoteCalls) {
  overload::LimiterOptions lo;
  lo.initial_limit = 1;
  lo.min_limit = 1;
  lo.adaptive = false;
  overload::ConcurrencyLimiter limiter("gateway", lo, nullptr);
  Make({}, &limiter);
  ASSERT_TRUE(gateway_->StartFallbackRefresh().ok());
  auto held = limiter.TryAcquire();  // the one slot is busy
  ASSERT_TRUE(held.has_value());
  auto r = gateway_->Recommend(Req("u1", 3), Clock::now() + 1s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->degraded());
  EXPECT_NE(r->degraded_reason().find("gateway overloaded"), std::string::npos);
  EXPECT_TRUE(retrieval_->calls.empty());
  EXPECT_EQ(Degraded("overload"), 1);
}

// A request whose caller has given up costs nothing: no fallback is built,
// no remote call made, and the shed is counted as a deadline's.
TEST_F(GatewayCore, APassedDeadlineIsAnsweredAtOnceWithNothing) {
  overload::ConcurrencyLimiter limiter("gateway", overload::LimiterOptions{}, nullptr);
  Make({}, &limiter);
  ASSERT_TRUE(gateway_->StartFallbackRefresh().ok());
  auto r = gateway_->Recommend(Req("u1", 3), Clock::now() - 1ms);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_TRUE(retrieval_->calls.empty());
  EXPECT_EQ(Degraded("overload"), 0);
  EXPECT_EQ(limiter.shed(), 1u);
}

// Admitted, a Recommend is in flight until its answer has been sent: inside
// a served call (the gRPC server's hooks mark it) the permit outlives the
// handler and is released when the call ends.
TEST_F(GatewayCore, APermitIsHeldUntilTheCallHasSentItsAnswer) {
  overload::ConcurrencyLimiter limiter("gateway", overload::LimiterOptions{}, nullptr);
  Make({}, &limiter);
  overload::BeginCall();
  ASSERT_TRUE(gateway_->Recommend(Req("u1", 5), Clock::now() + 1s).ok());
  EXPECT_EQ(limiter.inflight(), 1);
  EXPECT_EQ(overload::HeldForCall(), 1);
  overload::EndCall();
  EXPECT_EQ(limiter.inflight(), 0);
  EXPECT_EQ(overload::HeldForCall(), 0);
  // Outside a call (in-process callers) it is released on return.
  ASSERT_TRUE(gateway_->Recommend(Req("u1", 5), Clock::now() + 1s).ok());
  EXPECT_EQ(limiter.inflight(), 0);
}

TEST_F(GatewayCore, TitlesComeFromTheCacheAfterTheFirstAsk) {
  Make();
  ASSERT_TRUE(gateway_->Recommend(Req("u1", 5), Clock::now() + 1s).ok());
  const int asked = ingestion_->get_items_calls;
  EXPECT_EQ(asked, 1);
  auto r = gateway_->Recommend(Req("u2", 5), Clock::now() + 1s);  // the same five items
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ingestion_->get_items_calls, asked);
  EXPECT_EQ(r->items(0).item().title(), "Title of c29");
}

TEST_F(GatewayCore, RankedItemsCarryingMetadataNeedNoMetadataCall) {
  Make();
  ranking_->with_metadata = {"c29", "c28", "c27", "c26", "c25"};
  auto r = gateway_->Recommend(Req("u1", 5), Clock::now() + 1s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ingestion_->get_items_calls, 0);
  EXPECT_EQ(r->items(0).item().title(), "Ranking's title of c29");
  // One item without: only that one is asked for, and the others keep
  // ranking's metadata.
  ranking_->with_metadata.erase("c27");
  r = gateway_->Recommend(Req("u2", 5), Clock::now() + 1s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ingestion_->get_items_calls, 1);
  EXPECT_EQ(r->items(0).item().title(), "Ranking's title of c29");
  EXPECT_EQ(r->items(2).item().title(), "Title of c27");
}

TEST_F(GatewayCore, EachAnswerIsLoggedAsOneImpressionOfEveryItemShown) {
  Make();
  auto r = gateway_->Recommend(Req("u1", 3), Clock::now() + 1s);
  ASSERT_TRUE(r.ok());
  std::vector<v1::Event> got;
  for (int i = 0; i < 200 && got.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    std::lock_guard<std::mutex> lock(ingestion_->mu);
    got = ingestion_->events;
  }
  ASSERT_EQ(got.size(), 1u);
  const v1::Event& e = got[0];
  EXPECT_EQ(e.type(), v1::IMPRESSION);
  EXPECT_EQ(e.user_id(), "u1");
  EXPECT_EQ(e.item_id(), r->items(0).item_id());
  EXPECT_EQ(e.event_id(), "imp-" + r->request_id() + "-0");
  EXPECT_EQ(e.context().at("request_id"), r->request_id());
  EXPECT_EQ(e.context().at("variant"), "B");
  EXPECT_FALSE(e.context().contains("position"));
  ASSERT_EQ(e.shown_size(), 3);
  for (int p = 0; p < 3; ++p) {
    EXPECT_EQ(e.shown(p).item_id(), r->items(p).item_id());
    EXPECT_EQ(e.shown(p).position(), p);
  }
  // What ingestion accepts (events::ValidateEvent) is what the gateway sends.
  events::Event ev;
  ev.user_id = e.user_id();
  ev.item_id = e.item_id();
  ev.type = events::EventType::kImpression;
  ev.context.insert(e.context().begin(), e.context().end());
  for (const auto& s : e.shown())
    ev.shown.push_back({s.item_id(), s.position(), s.propensity(),
                        std::vector<float>(s.features().begin(), s.features().end())});
  EXPECT_TRUE(events::ValidateEvent(ev, 0, {}).ok()) << events::ValidateEvent(ev, 0, {});
}

TEST_F(GatewayCore, AnAnswerLongerThanFiftyItemsIsLoggedInEventsOfFifty) {
  Make();
  retrieval_->candidates = 130;
  auto r = gateway_->Recommend(Req("u1", 120), Clock::now() + 1s);
  ASSERT_TRUE(r.ok());
  const int n = r->items_size();
  ASSERT_GT(n, 100);
  std::vector<v1::Event> got;
  for (int i = 0; i < 200 && static_cast<int>(got.size()) < (n + 49) / 50; ++i) {
    std::this_thread::sleep_for(10ms);
    std::lock_guard<std::mutex> lock(ingestion_->mu);
    got = ingestion_->events;
  }
  ASSERT_EQ(static_cast<int>(got.size()), (n + 49) / 50);
  int position = 0;
  for (size_t j = 0; j < got.size(); ++j) {
    EXPECT_EQ(got[j].event_id(), "imp-" + r->request_id() + "-" + std::to_string(50 * j));
    EXPECT_LE(got[j].shown_size(), 50);
    EXPECT_EQ(got[j].item_id(), got[j].shown(0).item_id());
    for (const auto& s : got[j].shown()) {
      EXPECT_EQ(s.position(), position);
      EXPECT_EQ(s.item_id(), r->items(position).item_id());
      ++position;
    }
  }
  EXPECT_EQ(position, n);
}

TEST_F(GatewayCore, ImpressionsOfManyAnswersGoInOneBatchWhenFullOrAfterTheLinger) {
  GatewayOptions o;
  o.impression_batch = 12;     // items
  o.impression_linger = 600s;  // only a full batch (or shutdown) sends
  Make(o);
  for (const char* user : {"u1", "u2", "u3"})
    ASSERT_TRUE(gateway_->Recommend(Req(user, 5), Clock::now() + 1s).ok());
  std::vector<int> batches;
  for (int i = 0; i < 200 && batches.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    std::lock_guard<std::mutex> lock(ingestion_->mu);
    batches = ingestion_->batches;
  }
  // 3 answers of 5 items, an event each: the third filled the batch (15
  // items); one call with the first 2 answers (10 items: whole answers, at
  // most 12), the third waits for more or for the linger.
  EXPECT_EQ(batches, std::vector<int>{2});
  std::this_thread::sleep_for(50ms);
  {
    std::lock_guard<std::mutex> lock(ingestion_->mu);
    EXPECT_EQ(ingestion_->batches, std::vector<int>{2});
  }
  // A short linger sends what waits without a full batch.
  GatewayOptions quick;
  quick.impression_linger = 20ms;
  Make(quick);
  for (const char* user : {"u1", "u2", "u3", "u4", "u5"})
    ASSERT_TRUE(gateway_->Recommend(Req(user, 5), Clock::now() + 1s).ok());
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(10ms);
    std::lock_guard<std::mutex> lock(ingestion_->mu);
    int sent = 0;
    for (int b : ingestion_->batches) sent += b;
    if (sent == 5) break;
  }
  std::lock_guard<std::mutex> lock(ingestion_->mu);
  EXPECT_EQ(ingestion_->events.size(), 5u);
  EXPECT_LT(ingestion_->batches.size(), 5u);  // not one call per answer
}

TEST_F(GatewayCore, TheImpressionQueueIsBoundedInItemsAndDropsWholeAnswersItCannotHold) {
  GatewayOptions o;
  o.impression_queue = 12;     // items
  o.impression_batch = 1000;   // never full
  o.impression_linger = 600s;  // so nothing is sent before shutdown
  Make(o);
  for (const char* user : {"u1", "u2", "u3"})
    ASSERT_TRUE(gateway_->Recommend(Req(user, 5), Clock::now() + 1s).ok());
  // 5 + 5 fit in 12; the third answer's 5 do not, and are counted.
  EXPECT_EQ(metrics_.impressions_dropped->Value(), 5);
  EXPECT_EQ(metrics_.impressions_sent->Value(), 0);
  // Sent, the queue has room again.
  GatewayOptions quick = o;
  quick.impression_linger = 1ms;
  Make(quick);
  // (The metrics are the fixture's, and the first gateway sent its queue
  // when it stopped.) Each answer waits until it is sent before the next.
  const double sent0 = metrics_.impressions_sent->Value();
  const double dropped0 = metrics_.impressions_dropped->Value();
  EXPECT_EQ(sent0, 10);
  for (int a = 1; a <= 3; ++a) {
    ASSERT_TRUE(gateway_->Recommend(Req("u" + std::to_string(a), 5), Clock::now() + 1s).ok());
    for (int i = 0; i < 200 && metrics_.impressions_sent->Value() < sent0 + 5 * a; ++i)
      std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(metrics_.impressions_sent->Value() - sent0, 15);
  EXPECT_EQ(metrics_.impressions_dropped->Value(), dropped0);
}

TEST_F(GatewayCore, ImpressionsCarryTheRankersFeaturesAndExactExplorationPropensities) {
  GatewayOptions o;
  o.explore_rate = 0.3;
  Make(o);
  constexpr int kRequests = 2000, k = 5;
  for (int i = 0; i < kRequests; ++i) {
    auto r = gateway_->Recommend(Req("u" + std::to_string(i), k), Clock::now() + 1s);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& item : r->items()) EXPECT_EQ(item.features_size(), 0);  // not for clients
  }
  std::vector<v1::Event> got;
  for (int i = 0; i < 500 && got.size() < kRequests; ++i) {
    std::this_thread::sleep_for(10ms);
    std::lock_guard<std::mutex> lock(ingestion_->mu);
    got = ingestion_->events;
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(kRequests));
  // Per item shown: its vector's first value is the ranked position.
  double ips_sum = 0;
  int shuffled = 0, in_place = 0;
  for (const v1::Event& e : got) {
    const auto& ctx = e.context();
    EXPECT_EQ(ctx.at("feature_schema"), std::to_string(ranking::kFeatureSchema));
    EXPECT_EQ(ctx.at("ranker"), "linear");
    EXPECT_EQ(ctx.at("experiment"), "exp");
    ASSERT_EQ(e.shown_size(), k);
    if (ctx.at("explored") == "1") ++shuffled;
    for (const auto& s : e.shown()) {
      ASSERT_EQ(s.features_size(), ranking::kNumFeatures);
      EXPECT_FLOAT_EQ(s.features(2), 1.0f);
      const int ranked = static_cast<int>(s.features(0));
      const int shown = s.position();
      const double expected = (ranked == shown ? 1 - o.explore_rate : 0) + o.explore_rate / k;
      EXPECT_NEAR(s.propensity(), expected, 1e-9);
      if (ranked == shown) {
        ++in_place;
        ips_sum += 1 / expected;
      }
    }
  }
  // A share explore_rate of the requests were shuffled (4 binomial sd).
  const double sd = std::sqrt(kRequests * 0.3 * 0.7);
  EXPECT_NEAR(shuffled, kRequests * 0.3, 4 * sd);
  // The propensities are the true ones: inverse-propensity weighting of the
  // in-place actions recovers every (request, position) slot on average.
  // Closed-form spread of that mean: per request, the IPS sum is S = F / q
  // with q = 1 - eps + eps / k and F = k in-place slots when not explored,
  // or the fixed points of a uniform permutation (mean 1, variance 1) when
  // explored. E[S] = k, E[S^2] = ((1 - eps) k^2 + eps * 2) / q^2; 4 sd.
  const double eps = o.explore_rate, q = 1 - eps + eps / k;
  const double var_s = ((1 - eps) * k * k + eps * 2) / (q * q) - k * k;
  const double sd_mean = std::sqrt(var_s / kRequests) / k;
  EXPECT_NEAR(ips_sum / (kRequests * k), 1.0, 4 * sd_mean) << in_place << " in place";
}

TEST_F(GatewayCore, ARankerThatFellBackIsSaidInTheAnswerNotAnError) {
  Make();
  ranking_->degraded_reason = "ranker gbdt unavailable (no gbdt model is published): linear";
  auto r = gateway_->Recommend(Req("u1", 3), Clock::now() + 1s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->degraded());
  EXPECT_EQ(r->degraded_reason(), ranking_->degraded_reason);
  EXPECT_EQ(r->items_size(), 3);
  EXPECT_EQ(metrics_.degraded_ranker->Value(), 1);
}

TEST_F(GatewayCore, ExperimentsComeFromRankingWithinTheirBudget) {
  GatewayOptions o;
  o.experiments_budget = 2s;
  Make(o);
  const auto before = Clock::now();
  auto e = gateway_->Experiments(before + 60s);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].name(), "home");
  ASSERT_EQ((*e)[0].variants_size(), 2);
  EXPECT_EQ((*e)[0].variants(1).ranker(), "gbdt");
  ASSERT_EQ(ranking_->deadlines.size(), 1u);
  EXPECT_LE(ranking_->deadlines[0], Clock::now() + 2s);  // the budget, not the caller's 60 s
  // Never past the caller's deadline.
  const auto tight = Clock::now() + 30ms;
  ASSERT_TRUE(gateway_->Experiments(tight).ok());
  EXPECT_LE(ranking_->deadlines[1], tight);
  ranking_->status = absl::UnavailableError("ranking down");
  EXPECT_EQ(gateway_->Experiments(Clock::now() + 1s).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(GatewayCore, ExperimentReportAsksTrainingWithinItsBudget) {
  GatewayOptions o;
  o.report_budget = 5s;
  Make(o);
  auto r = gateway_->ExperimentReport("home", Clock::now() + 60s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->experiment, "home");
  EXPECT_EQ(r->control, "A");
  ASSERT_EQ(r->variants.size(), 1u);
  EXPECT_EQ(r->variants[0].users, 100);
  ASSERT_EQ(r->comparisons.size(), 1u);
  EXPECT_DOUBLE_EQ(r->comparisons[0].rel_lift, 0.2);
  ASSERT_EQ(training_->calls.size(), 1u);
  EXPECT_EQ(training_->calls[0].experiment(), "home");
  EXPECT_LE(training_->deadlines[0], Clock::now() + 5s);
  const auto tight = Clock::now() + 30ms;
  ASSERT_TRUE(gateway_->ExperimentReport("home", tight).ok());
  EXPECT_LE(training_->deadlines[1], tight);
  // Unknown: training's NOT_FOUND, passed on. Empty: the caller's mistake.
  EXPECT_EQ(gateway_->ExperimentReport("nope", Clock::now() + 1s).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(gateway_->ExperimentReport("", Clock::now() + 1s).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(training_->calls.size(), 3u);  // the empty name reached no backend
}

TEST_F(GatewayCore, WithoutATrainingBackendExperimentsAreUnavailable) {
  Make({}, nullptr, /*with_training=*/false);
  for (const absl::Status& st : {gateway_->Experiments(Clock::now() + 1s).status(),
                                 gateway_->ExperimentReport("home", Clock::now() + 1s).status()}) {
    EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
    EXPECT_NE(st.message().find("no --training-addr"), std::string::npos) << st;
  }
  // Recommend does not need it.
  EXPECT_TRUE(gateway_->Recommend(Req("u1", 3), Clock::now() + 1s).ok());
}

using ::recstack::testing::PercentEncode;

// The HTTP API without a socket (HttpServer::Handle, httplib's own parsing):
// an id in the path is decoded exactly once, so ids with '/', '+' or '%'
// reach the backends as they are (found by tests/fuzz/http_fuzz.cc).
TEST_F(GatewayCore, HttpPathIdsAreDecodedOnce) {
  Make();
  HttpServer http(*gateway_, [] { return true; });
  for (const std::string id : {"a/b", "x+y", "50%41", "caf\xc3\xa9", "u1"}) {
    const std::string out = http.Handle("GET /v1/users/" + PercentEncode(id) +
                                        "/recommendations?k=2 HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(out.starts_with("HTTP/1.1 200 ")) << id << ": " << out;
    ASSERT_FALSE(retrieval_->calls.empty());
    EXPECT_EQ(retrieval_->calls.back().user_id(), id);
  }
  const std::string out =
      http.Handle("GET /v1/items/" + PercentEncode("i/1+2") + "/similar HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200 ")) << out;
}

// An error that quotes what the client sent stays JSON when that is not
// UTF-8 (it was an exception, then a 500; found by tests/fuzz/http_fuzz.cc).
TEST_F(GatewayCore, HttpErrorsQuotingBadBytesAreStillJson) {
  Make();
  EXPECT_TRUE(nlohmann::json::accept(ErrorJson(absl::InvalidArgumentError("field \xff\xfe"))));
  HttpServer http(*gateway_, [] { return true; });
  const std::string body = "{\"user_id\":\"u1\",\"item_\xffid\":\"i1\"}";
  const std::string out = http.Handle(
      "POST /v1/events HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 400 ")) << out;
  const size_t at = out.find("\r\n\r\n");
  ASSERT_NE(at, std::string::npos);
  EXPECT_TRUE(nlohmann::json::accept(out.substr(at + 4))) << out;
  EXPECT_EQ(metrics_.http["5xx"]->Value(), 0);
}

// A Range header does not cut a JSON answer (httplib applied it to every
// answer, a 400's included, keeping the status; found by tests/fuzz/http_fuzz.cc).
TEST_F(GatewayCore, HttpRangeHeadersAreIgnored) {
  Make();
  HttpServer http(*gateway_, [] { return true; });
  for (const char* path :
       {"/v1/users/u1/recommendations?k=2", "/v1/users/u1/recommendations?k=x"}) {
    const std::string out =
        http.Handle(std::string("GET ") + path + " HTTP/1.1\r\nRange: bytes=0-1\r\n\r\n");
    const size_t at = out.find("\r\n\r\n");
    ASSERT_NE(at, std::string::npos) << out;
    EXPECT_TRUE(nlohmann::json::accept(out.substr(at + 4))) << out;
    EXPECT_EQ(out.find("Content-Range"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace recstack::gateway
