// Retrieval over real gRPC with models published to a real redis-server.
#include <algorithm>
#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "common/grpc/channel.h"
#include "common/math/rng.h"
#include "recstack/v1/retrieval.grpc.pb.h"
#include "services/retrieval/retrieval_service.h"
#include "tests/support/grpc/in_process_server.h"
#include "tests/support/redis/redis_server.h"

namespace recstack::retrieval {
namespace {

using namespace std::chrono_literals;

model::ModelData RandomModel(int users, int items, int d, uint64_t seed) {
  model::ModelData m;
  m.meta.factors = d;
  m.meta.regularization = 1.0f;
  m.meta.alpha = 1.0f;
  math::Rng rng(seed);
  for (int u = 0; u < users; ++u) m.user_ids.push_back("u" + std::to_string(u));
  for (int i = 0; i < items; ++i) m.item_ids.push_back("i" + std::to_string(i));
  m.user_factors.resize(static_cast<size_t>(users) * d);
  m.item_factors.resize(static_cast<size_t>(items) * d);
  for (auto& x : m.user_factors) x = static_cast<float>(rng.Normal());
  for (auto& x : m.item_factors) x = static_cast<float>(rng.Normal());
  return m;
}

class RetrievalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<redis::Pool>(redis_.options(), 8);
    store_ = std::make_unique<model::ModelStore>(*pool_, redis::Keyspace());
    source_ = std::make_unique<RedisRetrievalSource>(*pool_, *store_, redis::Keyspace());
    HolderOptions ho;
    ho.poll_interval = 200ms;
    holder_ = std::make_unique<ModelHolder>(*store_, redis_.options(), redis::Keyspace(), ho);
    RetrieverOptions ro;
    ro.trending_refresh = 50ms;
    retriever_ = std::make_unique<Retriever>(*holder_, *source_, clock_, ro);
    retriever_->Start();
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<RetrievalMetrics>(*registry_);
    handler_ = std::make_unique<RetrievalHandler>(*retriever_, *metrics_);
    service_ = std::make_unique<RetrievalServiceImpl>(*handler_);
    server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{service_.get()});
    stub_ = v1::RetrievalService::NewStub(server_->channel());
  }
  void TearDown() override {
    server_.reset();
    holder_->Stop();
  }
  grpc::Status Retrieve(const std::string& user, int k, v1::RetrieveResponse* resp,
                        std::vector<std::string> sources = {}) {
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, 5s);
    v1::RetrieveRequest req;
    req.set_user_id(user);
    req.set_k(k);
    for (auto& s : sources) req.add_sources(s);
    return stub_->Retrieve(&ctx, req, resp);
  }
  void WaitForVersion(const std::string& v) {
    for (int i = 0; i < 200; ++i) {
      auto m = holder_->Current();
      if (m != nullptr && m->meta.version == v) return;
      std::this_thread::sleep_for(10ms);
    }
    FAIL() << "model " << v << " never loaded";
  }

  testing::RedisServer redis_;
  ManualClock clock_{1767225600000};
  std::unique_ptr<redis::Pool> pool_;
  std::unique_ptr<model::ModelStore> store_;
  std::unique_ptr<RedisRetrievalSource> source_;
  std::unique_ptr<ModelHolder> holder_;
  std::unique_ptr<Retriever> retriever_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<RetrievalMetrics> metrics_;
  std::unique_ptr<RetrievalHandler> handler_;
  std::unique_ptr<RetrievalServiceImpl> service_;
  std::unique_ptr<testing::InProcessServer> server_;
  std::unique_ptr<v1::RetrievalService::Stub> stub_;
};

TEST_F(RetrievalTest, BeforeAnyModel) {
  holder_->Start();
  v1::RetrieveResponse resp;
  EXPECT_EQ(Retrieve("u1", 10, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // The decayed trending counts (as ingestion writes them), picked up by
  // the background refresh.
  ASSERT_TRUE(pool_
                  ->Pipeline({{"HSET", "rs:trend:meta", "epoch_ms", "1767225600000", "half_life_ms",
                               "86400000"},
                              {"ZADD", "rs:trend", "3", "hot"}})
                  .ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(Retrieve("u1", 10, &resp, {"trending"}).ok());
    if (resp.candidates_size() > 0) break;
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_EQ(resp.candidates_size(), 1);
  EXPECT_EQ(resp.candidates(0).item_id(), "hot");
}

TEST_F(RetrievalTest, BadRequests) {
  holder_->Start();
  v1::RetrieveResponse resp;
  EXPECT_EQ(Retrieve("", 10, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Retrieve("u1", 0, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto st = Retrieve("u1", 1001, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "k must be 1-1000, got 1001");
  st = Retrieve("u1", 5, &resp, {"psychic"});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("unknown source"), std::string::npos);
  EXPECT_EQ(Retrieve(std::string(129, 'u'), 5, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(RetrievalTest, KnownFoldedInAndColdUsers) {
  ASSERT_TRUE(store_->Publish(RandomModel(20, 300, 8, 1), {}).ok());
  holder_->Start();
  WaitForVersion("v1");
  // History: u1 saw i0..i4; a newcomer (not in the model) saw i10..i14.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        pool_->Command({"ZADD", "rs:hist:u1", std::to_string(1000 + i), "i" + std::to_string(i)})
            .ok());
    ASSERT_TRUE(pool_
                    ->Command({"ZADD", "rs:hist:newcomer", std::to_string(1000 + i),
                               "i" + std::to_string(10 + i)})
                    .ok());
  }
  v1::RetrieveResponse resp;
  ASSERT_TRUE(Retrieve("u1", 20, &resp).ok());
  EXPECT_EQ(resp.user_vector(), "model");
  EXPECT_EQ(resp.candidates_size(), 20);
  std::set<std::string> ids;
  for (const auto& c : resp.candidates()) {
    ids.insert(c.item_id());
    EXPECT_NE(c.item_id(), "i0");  // seen items are filtered
    EXPECT_TRUE(c.source() == "mf" || c.source() == "item2item" || c.source() == "trending");
  }
  EXPECT_EQ(ids.size(), 20u);  // deduplicated
  resp.Clear();
  ASSERT_TRUE(Retrieve("newcomer", 10, &resp).ok());
  EXPECT_EQ(resp.user_vector(), "folded_in");
  EXPECT_EQ(resp.candidates_size(), 10);
  resp.Clear();
  ASSERT_TRUE(Retrieve("nobody", 10, &resp).ok());
  EXPECT_EQ(resp.user_vector(), "none");
  // Similar items.
  grpc::ClientContext ctx;
  v1::SimilarItemsRequest sreq;
  sreq.set_item_id("i7");
  sreq.set_k(5);
  v1::SimilarItemsResponse sresp;
  ASSERT_TRUE(stub_->SimilarItems(&ctx, sreq, &sresp).ok());
  ASSERT_EQ(sresp.items_size(), 5);
  EXPECT_NE(sresp.items(0).item_id(), "i7");
  grpc::ClientContext ctx2;
  sreq.set_item_id("nope");
  EXPECT_EQ(stub_->SimilarItems(&ctx2, sreq, &sresp).error_code(), grpc::StatusCode::NOT_FOUND);
}

// SampleUsers names users the served model knows (the gateway's journey
// page opens on one): before a model none, then the served version's, and
// after a new version only that one's.
TEST_F(RetrievalTest, SampleUsersNamesUsersOfTheServedModel) {
  holder_->Start();
  auto sample = [&](int n, v1::SampleUsersResponse* resp) {
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, 5s);
    v1::SampleUsersRequest req;
    req.set_n(n);
    resp->Clear();
    return stub_->SampleUsers(&ctx, req, resp);
  };
  v1::SampleUsersResponse resp;
  EXPECT_EQ(sample(1, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(store_->Publish(RandomModel(20, 50, 4, 1), {}).ok());
  WaitForVersion("v1");
  ASSERT_TRUE(sample(0, &resp).ok());  // 0 = 1
  EXPECT_EQ(resp.model_version(), "v1");
  ASSERT_EQ(resp.user_ids_size(), 1);
  ASSERT_TRUE(sample(100, &resp).ok());
  std::set<std::string> users(resp.user_ids().begin(), resp.user_ids().end());
  EXPECT_EQ(users.size(), 20u);  // every user, once, and no more
  for (const auto& u : users) {
    auto v = store_->GetUserVector("v1", u);
    ASSERT_TRUE(v.ok() && v->has_value()) << u;
  }
  auto st = sample(101, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "n must be 1-100, got 101");
  // A new version with other users: only those are named.
  model::ModelData next = RandomModel(5, 50, 4, 2);
  for (auto& u : next.user_ids) u = "new-" + u;
  ASSERT_TRUE(store_->Publish(next, {}).ok());
  WaitForVersion("v2");
  ASSERT_TRUE(sample(10, &resp).ok());
  EXPECT_EQ(resp.model_version(), "v2");
  ASSERT_EQ(resp.user_ids_size(), 5);
  for (const auto& u : resp.user_ids()) EXPECT_EQ(u.rfind("new-u", 0), 0u) << u;
  // The answer is served from memory once scanned.
  ASSERT_TRUE(pool_->Command({"DEL", "rs:model:v2:user:new-u0"}).ok());
  ASSERT_TRUE(sample(10, &resp).ok());
  EXPECT_EQ(resp.user_ids_size(), 5);
}

// Each source says when it started (after the history read, one after
// another) and how long it took.
TEST_F(RetrievalTest, SourcesReportWhenTheyStarted) {
  ASSERT_TRUE(store_->Publish(RandomModel(20, 300, 8, 1), {}).ok());
  holder_->Start();
  WaitForVersion("v1");
  ASSERT_TRUE(pool_->Command({"ZADD", "rs:hist:u1", "1000", "i0"}).ok());
  v1::RetrieveResponse resp;
  ASSERT_TRUE(Retrieve("u1", 20, &resp).ok());
  ASSERT_GE(resp.sources_size(), 3);
  int64_t end = 0;
  for (const auto& s : resp.sources()) {
    EXPECT_GE(s.start_us(), end) << s.source();
    EXPECT_GE(s.latency_us(), 0) << s.source();
    end = s.start_us() + s.latency_us();
  }
}

TEST_F(RetrievalTest, ModelSwapUnderConcurrentRequestsHasNoErrors) {
  ASSERT_TRUE(store_->Publish(RandomModel(50, 2000, 16, 1), {}).ok());
  holder_->Start();
  WaitForVersion("v1");
  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, errors{0};
  std::set<std::string> versions_seen;
  std::mutex mu;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      auto stub = v1::RetrievalService::NewStub(grpcutil::MakeChannel(server_->address()));
      int n = 0;
      while (!done && n < 20000) {
        grpc::ClientContext ctx;
        grpcutil::SetDeadline(ctx, 5s);
        v1::RetrieveRequest req;
        req.set_user_id("u" + std::to_string((t * 7 + n++) % 60));  // some unknown to the model
        req.set_k(10);
        v1::RetrieveResponse resp;
        auto st = stub->Retrieve(&ctx, req, &resp);
        if (st.ok() && resp.candidates_size() > 0) {
          ok++;
          std::lock_guard<std::mutex> lock(mu);
          versions_seen.insert(resp.model_version());
        } else if (!st.ok()) {
          errors++;
        }
      }
    });
  }
  for (int v = 2; v <= 6; ++v) {
    ASSERT_TRUE(store_->Publish(RandomModel(50, 2000, 16, v), {.keep_versions = 2}).ok());
    std::this_thread::sleep_for(100ms);
  }
  WaitForVersion("v6");
  std::this_thread::sleep_for(100ms);
  done = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(ok.load(), 100);
  EXPECT_GE(versions_seen.size(), 2u);
  EXPECT_TRUE(versions_seen.count("v6"));
}

// With the model's neighbour table (200 per item), k <= 200 is the
// survivors of the item's 200 best, whatever the filter removes (no scan);
// a larger k scans, exactly, and its lists are cached.
TEST_F(RetrievalTest, NeighboursAreTheTablesSurvivorsOrAnExactScan) {
  const int n = 300, d = 8;
  const model::ModelData data = RandomModel(5, n, d, 3);
  ASSERT_TRUE(store_->Publish(data, {}).ok());
  holder_->Start();
  WaitForVersion("v1");
  auto m = holder_->Current();
  for (int i = 0; i < 500 && m->neighbours.load() == nullptr; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_NE(m->neighbours.load(), nullptr) << "the neighbour table was never built";
  ASSERT_EQ(m->neighbours.load()->per_item, 200);
  // The oracle: every cosine, sorted, ties by index.
  auto oracle = [&](int32_t item, int k, const std::function<bool(int32_t)>& skip) {
    std::vector<std::pair<float, int32_t>> all;
    for (int32_t j = 0; j < n; ++j) {
      if (j == item || (skip && skip(j))) continue;
      float dot = 0;
      for (int c = 0; c < d; ++c) dot += m->factors.row(item)[c] * m->factors.row(j)[c];
      all.push_back({dot / (m->norms[item] * m->norms[j]), j});
    }
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    std::vector<int32_t> out;
    for (int i = 0; i < std::min<int>(k, all.size()); ++i) out.push_back(all[i].second);
    return out;
  };
  auto names = [&](const std::vector<int32_t>& idx) {
    std::vector<std::string> out;
    for (int32_t i : idx) out.push_back(m->item_ids[i]);
    return out;
  };
  // The first k of the unfiltered 200 best that the filter keeps.
  auto from_table = [&](int32_t item, int k, const std::function<bool(int32_t)>& skip) {
    std::vector<int32_t> out;
    for (int32_t j : oracle(item, 200, nullptr)) {
      if (static_cast<int>(out.size()) < k && !(skip && skip(j))) out.push_back(j);
    }
    return out;
  };
  auto ids = [&](const std::vector<math::ScoredId>& c) {
    std::vector<std::string> out;
    for (auto& x : c) out.push_back(m->item_ids[x.id]);
    return out;
  };
  const std::function<bool(int32_t)> none, odd = [](int32_t id) { return id % 2 == 1; },
                                           most = [](int32_t id) { return id % 10 != 0; };
  const std::vector<int32_t> seeds = {7, 42, 299};
  for (int round = 0; round < 2; ++round) {  // the first round fills the cache, the second reads it
    for (int k : {5, 100, 250}) {
      for (const auto* skip : {&none, &odd, &most}) {
        auto got = retriever_->NeighboursOfEach(*m, seeds, k, *skip);
        ASSERT_EQ(got.size(), 3u);
        for (size_t s = 0; s < seeds.size(); ++s) {
          const auto want = k <= 200 ? from_table(seeds[s], k, *skip) : oracle(seeds[s], k, *skip);
          EXPECT_EQ(ids(got[s]), names(want)) << "k " << k << " seed " << seeds[s];
        }
      }
    }
  }
  // The most selective filter leaves fewer than k of the table's 200.
  EXPECT_LT(retriever_->NeighboursOfEach(*m, {7}, 100, most)[0].size(), 100u);
  EXPECT_GT(retriever_->neighbour_cache().hits(), 0u);  // k 250's lists, round 2
}

}  // namespace
}  // namespace recstack::retrieval
