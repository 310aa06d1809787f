// API keys at the gateway's doors, over real gRPC and real HTTP on
// loopback: a request without a valid key reaches no backend (the backends
// count every call), a key over its rate is refused with
// RESOURCE_EXHAUSTED / 429 and Retry-After, /healthz stays open, and a key
// file rewritten while serving takes effect without a restart. The other
// services are counting fakes behind the gateway's backend interfaces.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "services/gateway/api_keys.h"
#include "services/gateway/gateway.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/http_server.h"
#include "tests/support/grpc/in_process_server.h"

namespace recstack::gateway {
namespace {

constexpr char kWebKey[] = "web-key-0123456789abcdef";
constexpr char kSlowKey[] = "slow-key-0123456789abcdef";
constexpr char kNewKey[] = "new-key-0123456789abcdef";

std::atomic<int> backend_calls{0};

class CountingRetrieval final : public RetrievalBackend {
 public:
  absl::StatusOr<v1::RetrieveResponse> Retrieve(const v1::RetrieveRequest& req, Deadline) override {
    ++backend_calls;
    v1::RetrieveResponse r;
    r.set_model_version("v1");
    for (int i = 0; i < 3; ++i) {
      v1::ScoredItem* s = r.add_candidates();
      s->set_item_id("i" + std::to_string(i));
      s->set_score(1.0f / (i + 1));
      s->set_source("mf");
    }
    return r;
  }
  absl::StatusOr<v1::SimilarItemsResponse> SimilarItems(const v1::SimilarItemsRequest&,
                                                        Deadline) override {
    ++backend_calls;
    return v1::SimilarItemsResponse();
  }
  absl::StatusOr<v1::SampleUsersResponse> SampleUsers(const v1::SampleUsersRequest&,
                                                      Deadline) override {
    ++backend_calls;
    return v1::SampleUsersResponse();
  }
};

class CountingRanking final : public RankingBackend {
 public:
  absl::StatusOr<v1::RankResponse> Rank(const v1::RankRequest& req, Deadline) override {
    ++backend_calls;
    v1::RankResponse r;
    for (const auto& c : req.candidates()) *r.add_items() = c;
    return r;
  }
  absl::StatusOr<v1::ListRankersResponse> ListRankers(const v1::ListRankersRequest&,
                                                      Deadline) override {
    ++backend_calls;
    return v1::ListRankersResponse();
  }
};

class CountingIngestion final : public IngestionBackend {
 public:
  absl::StatusOr<v1::IngestEventsResponse> IngestEvents(const v1::IngestEventsRequest& req,
                                                        Deadline) override {
    ++backend_calls;
    v1::IngestEventsResponse r;
    r.set_accepted(req.events_size());
    return r;
  }
  absl::StatusOr<v1::GetItemsResponse> GetItems(const v1::GetItemsRequest&, Deadline) override {
    ++backend_calls;
    return v1::GetItemsResponse();
  }
  absl::StatusOr<v1::GetTrendingResponse> GetTrending(const v1::GetTrendingRequest&,
                                                      Deadline) override {
    ++backend_calls;
    return v1::GetTrendingResponse();
  }
};

class GatewayKeys : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("recstack-gateway-keys-" + std::to_string(::getpid()) + ".json");
    WriteKeys(kWebKey, kSlowKey);
    keys_ = std::make_unique<ApiKeys>(path_.string(), clock_, &registry_);
    ASSERT_TRUE(keys_->Load().ok());
    keys_->StartWatching(std::chrono::milliseconds(20));
    GatewayOptions o;
    o.log_impressions = false;
    gateway_ = std::make_unique<Gateway>(
        std::make_unique<CountingRetrieval>(), std::make_unique<CountingRanking>(),
        std::make_unique<CountingIngestion>(), nullptr, o, metrics_);
    service_ = std::make_unique<GatewayServiceImpl>(*gateway_, keys_.get());
    server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{service_.get()});
    stub_ = v1::GatewayService::NewStub(server_->channel());
    http_ = std::make_unique<HttpServer>(
        *gateway_, [] { return true; }, keys_.get());
    ASSERT_TRUE(http_->Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_->port());
    backend_calls = 0;
  }
  void TearDown() override {
    http_->Stop();
    server_->Stop();
    keys_->Stop();
    std::filesystem::remove(path_);
  }
  // "web" at 1000/s, "slow" at 1/s with a burst of 2.
  void WriteKeys(const std::string& web, const std::string& slow) {
    const std::string tmp = path_.string() + ".tmp";
    std::ofstream(tmp) << R"({"keys": [
        {"name": "web", "key": ")"
                       << web << R"(", "rate_per_second": 1000, "burst": 1000},
        {"name": "slow", "key": ")"
                       << slow << R"(", "rate_per_second": 1, "burst": 2}]})";
    std::filesystem::rename(tmp, path_);
  }
  grpc::Status Recommend(const std::string& key, grpc::ClientContext* ctx = nullptr) {
    grpc::ClientContext own;
    if (ctx == nullptr) ctx = &own;
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!key.empty()) ctx->AddMetadata("x-api-key", key);
    v1::RecommendRequest req;
    req.set_user_id("u1");
    req.set_k(3);
    v1::RecommendResponse resp;
    return stub_->Recommend(ctx, req, &resp);
  }
  httplib::Result Get(const std::string& path, const std::string& key) {
    httplib::Headers h;
    if (!key.empty()) h.emplace("X-API-Key", key);
    return client_->Get(path.c_str(), h);
  }

  ManualClock clock_{1'000'000};
  prometheus::Registry registry_;
  GatewayMetrics metrics_{registry_};
  std::filesystem::path path_;
  std::unique_ptr<ApiKeys> keys_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<GatewayServiceImpl> service_;
  std::unique_ptr<testing::InProcessServer> server_;
  std::unique_ptr<v1::GatewayService::Stub> stub_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(GatewayKeys, GrpcCallsWithoutAValidKeyReachNoBackend) {
  for (const std::string key : {"", "not-a-key-of-ours-0000", "web-key-0123456789abcdeF"}) {
    grpc::Status st = Recommend(key);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << key;
  }
  for (const std::string key : {"", "not-a-key-of-ours-0000"}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!key.empty()) ctx.AddMetadata("x-api-key", key);
    v1::IngestEventsRequest req;
    v1::Event* e = req.add_events();
    e->set_user_id("u1");
    e->set_item_id("i1");
    v1::IngestEventsResponse resp;
    EXPECT_EQ(stub_->IngestEvents(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(backend_calls, 0);
  grpc::Status st = Recommend(kWebKey);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_GT(backend_calls, 0);
}

TEST_F(GatewayKeys, HttpRequestsWithoutAValidKeyReachNoBackend) {
  for (const std::string key : {"", "not-a-key-of-ours-0000"}) {
    for (const char* path : {"/v1/users/u1/recommendations?k=3", "/v1/items/i1/similar",
                             "/v1/models", "/v1/experiments", "/v1/model/users"}) {
      auto res = Get(path, key);
      ASSERT_TRUE(res) << path;
      EXPECT_EQ(res->status, 401) << path;
      EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
      EXPECT_NE(res->body.find("UNAUTHENTICATED"), std::string::npos) << res->body;
    }
    httplib::Headers h;
    if (!key.empty()) h.emplace("X-API-Key", key);
    auto post =
        client_->Post("/v1/events", h, R"({"user_id": "u1", "item_id": "i1"})", "application/json");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 401);
  }
  EXPECT_EQ(backend_calls, 0);
  auto health = Get("/healthz", "");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto ok = Get("/v1/users/u1/recommendations?k=3", kWebKey);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  httplib::Headers bearer{{"Authorization", std::string("Bearer ") + kWebKey}};
  auto ok2 = client_->Get("/v1/users/u1/recommendations?k=3", bearer);
  ASSERT_TRUE(ok2);
  EXPECT_EQ(ok2->status, 200) << ok2->body;
  EXPECT_GT(backend_calls, 0);
}

TEST_F(GatewayKeys, AKeyOverItsRateGetsResourceExhaustedAnd429WithRetryAfter) {
  // The clock stands still: "slow" has its burst of 2 and no more.
  EXPECT_TRUE(Recommend(kSlowKey).ok());
  auto res = Get("/v1/users/u1/recommendations?k=3", kSlowKey);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const int before = backend_calls;

  grpc::ClientContext ctx;
  grpc::Status st = Recommend(kSlowKey, &ctx);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(st.error_message().find("\"slow\" is over its rate"), std::string::npos)
      << st.error_message();
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find("retry-after");
  ASSERT_NE(it, trailers.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "1");
  ASSERT_NE(trailers.find("retry-after-ms"), trailers.end());

  // Over its rate, many times: each refusal is timed at the client (loopback
  // included), printed for the record (speed is not asserted in tests).
  std::vector<double> us;
  for (int i = 0; i < 500; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = Get("/v1/users/u1/recommendations?k=3", kSlowKey);
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 429);
    ASSERT_EQ(r->get_header_value("Retry-After"), "1");
  }
  EXPECT_EQ(backend_calls, before);
  std::sort(us.begin(), us.end());
  std::printf("api keys: 429 round trip over loopback, 500 requests: p50 %.0f us, p99 %.0f us\n",
              us[us.size() / 2], us[us.size() * 99 / 100]);

  // The server's share: the decision itself (hash, lookup, bucket), timed
  // alone.
  std::vector<double> check_us;
  for (int i = 0; i < 10'000; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    ApiKeys::Decision d = keys_->Check(kSlowKey);
    check_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_EQ(d.status.code(), absl::StatusCode::kResourceExhausted);
  }
  std::sort(check_us.begin(), check_us.end());
  std::printf("api keys: the refusal decision, 10000 checks: p50 %.2f us, p99 %.2f us\n",
              check_us[check_us.size() / 2], check_us[check_us.size() * 99 / 100]);

  // The other key is not affected; one second later "slow" has a token.
  EXPECT_TRUE(Recommend(kWebKey).ok());
  clock_.AdvanceMs(1000);
  EXPECT_TRUE(Recommend(kSlowKey).ok());
}

TEST_F(GatewayKeys, ARewrittenKeyFileTakesEffectWithoutARestart) {
  EXPECT_TRUE(Recommend(kWebKey).ok());
  WriteKeys(kNewKey, kSlowKey);
  bool rotated = false;
  for (int i = 0; i < 250 && !rotated; ++i) {
    rotated = Recommend(kNewKey).ok();
    if (!rotated) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(rotated);
  EXPECT_EQ(Recommend(kWebKey).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto res = Get("/v1/users/u1/recommendations?k=3", kWebKey);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

}  // namespace
}  // namespace recstack::gateway
