// ModelStore against a real redis-server: round trip, retention, promote,
// and a reader that never sees a half-written version.
#include "common/model/model_store.h"

#include <atomic>
#include <cmath>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/redis/redis_server.h"

namespace recstack::model {
namespace {

using testing::RedisTest;

ModelData MakeModel(int users, int items, int d, float fill, bool biases) {
  ModelData m;
  m.meta.kind = biases ? ModelKind::kExplicitAls : ModelKind::kImplicitAls;
  m.meta.factors = d;
  m.meta.has_biases = biases;
  m.meta.global_mean = 3.5f;
  m.meta.regularization = 0.1f;
  m.meta.params["factors"] = std::to_string(d);
  m.meta.metrics["ndcg@10"] = 0.42;
  for (int u = 0; u < users; ++u) m.user_ids.push_back("user-" + std::to_string(u));
  for (int i = 0; i < items; ++i) m.item_ids.push_back("item:" + std::to_string(i));
  m.user_factors.resize(static_cast<size_t>(users) * d);
  m.item_factors.resize(static_cast<size_t>(items) * d);
  for (size_t j = 0; j < m.user_factors.size(); ++j) m.user_factors[j] = fill + 0.001f * j;
  for (size_t j = 0; j < m.item_factors.size(); ++j) m.item_factors[j] = fill - 0.001f * j;
  if (biases) {
    m.user_biases.assign(users, 0.25f);
    m.item_biases.assign(items, -0.5f);
  }
  return m;
}

class ModelStoreTest : public RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    pool_ = MakePool(4);
    store_ = std::make_unique<ModelStore>(*pool_, redis::Keyspace());
  }
  std::unique_ptr<redis::Pool> pool_;
  std::unique_ptr<ModelStore> store_;
};

TEST_F(ModelStoreTest, NoModelYet) {
  EXPECT_EQ(store_->CurrentVersion().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetMeta("v1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelStoreTest, PublishAndLoadRoundTrip) {
  ModelData m = MakeModel(7, 10, 5, 1.0f, /*biases=*/true);
  auto meta = store_->Publish(m, {.chunk_size = 3});
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->version, "v1");
  EXPECT_EQ(meta->n_chunks, 4);
  EXPECT_EQ(*store_->CurrentVersion(), "v1");
  auto items = store_->LoadItems("v1");
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ(items->item_ids, m.item_ids);
  EXPECT_EQ(items->factors, m.item_factors);
  EXPECT_EQ(items->biases, m.item_biases);
  EXPECT_EQ(items->meta.kind, ModelKind::kExplicitAls);
  EXPECT_FLOAT_EQ(items->meta.global_mean, 3.5f);
  EXPECT_EQ(items->meta.params.at("factors"), "5");
  EXPECT_DOUBLE_EQ(items->meta.metrics.at("ndcg@10"), 0.42);
  auto user = store_->GetUserVector("v1", "user-3");
  ASSERT_TRUE(user.ok() && user->has_value());
  ASSERT_EQ((*user)->size(), 6u);  // 5 factors + bias
  for (int a = 0; a < 5; ++a) EXPECT_FLOAT_EQ((**user)[a], m.user_factors[3 * 5 + a]);
  EXPECT_FLOAT_EQ((**user)[5], 0.25f);
  auto nobody = store_->GetUserVector("v1", "stranger");
  ASSERT_TRUE(nobody.ok());
  EXPECT_FALSE(nobody->has_value());
}

TEST_F(ModelStoreTest, RetentionPromoteAndDelete) {
  for (int v = 1; v <= 4; ++v) {
    ASSERT_TRUE(
        store_->Publish(MakeModel(3, 4, 2, static_cast<float>(v), false), {.keep_versions = 2})
            .ok());
  }
  auto versions = store_->ListVersions();
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, "v4");
  EXPECT_EQ((*versions)[1].version, "v3");
  // Every key of the deleted versions is gone.
  auto keys = pool_->Command({"KEYS", "rs:model:v1:*"});
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->elements.empty());
  keys = pool_->Command({"KEYS", "rs:model:v2:*"});
  EXPECT_TRUE(keys->elements.empty());
  // Roll back to v3, and refuse a version that is not kept.
  ASSERT_TRUE(store_->Promote("v3").ok());
  EXPECT_EQ(*store_->CurrentVersion(), "v3");
  EXPECT_EQ(store_->Promote("v1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteVersion("v3").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->DeleteVersion("v4").ok());
  EXPECT_EQ(store_->ListVersions()->size(), 1u);
}

TEST_F(ModelStoreTest, BadInputIsRejected) {
  ModelData m = MakeModel(2, 2, 3, 1.0f, false);
  m.item_factors.pop_back();
  EXPECT_EQ(store_->Publish(m, {}).status().code(), absl::StatusCode::kInvalidArgument);
  ModelData none = MakeModel(2, 0, 3, 1.0f, false);
  EXPECT_EQ(store_->Publish(none, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ItemChunk, RejectsTruncatedAndGarbled) {
  std::vector<std::string> ids = {"a", "bb"};
  std::vector<float> f = {1, 2, 3, 4};
  std::string bytes = EncodeItemChunk(ids, f.data(), nullptr, 2);
  std::vector<std::string> out_ids;
  std::vector<float> out_f, out_b;
  ASSERT_TRUE(DecodeItemChunk(bytes, 2, &out_ids, &out_f, &out_b).ok());
  EXPECT_EQ(out_ids, ids);
  EXPECT_EQ(out_f, f);
  for (size_t cut : {size_t{3}, size_t{17}, bytes.size() - 1}) {
    std::vector<std::string> i2;
    std::vector<float> f2, b2;
    EXPECT_EQ(DecodeItemChunk(bytes.substr(0, cut), 2, &i2, &f2, &b2).code(),
              absl::StatusCode::kDataLoss);
  }
  std::string garbled = bytes;
  garbled[0] = 'X';
  EXPECT_FALSE(DecodeItemChunk(garbled, 2, &out_ids, &out_f, &out_b).ok());
  EXPECT_FALSE(DecodeItemChunk(bytes, 3, &out_ids, &out_f, &out_b).ok());  // wrong d
}

// What a reader accepts without Redis (ParseModelMeta, the assemblers): a
// version whose records disagree with each other is refused, never served.
redis::Reply Hash(const std::vector<std::pair<std::string, std::string>>& fields) {
  redis::Reply r;
  r.type = redis::Reply::Type::kArray;
  for (const auto& [f, v] : fields) {
    redis::Reply a, b;
    a.type = b.type = redis::Reply::Type::kString;
    a.str = f;
    b.str = v;
    r.elements.push_back(a);
    r.elements.push_back(b);
  }
  return r;
}

TEST(ModelRecords, MetaSizesMustAgree) {
  auto meta = [](std::string items, std::string chunks, std::string chunk_size) {
    return ParseModelMeta(Hash({{"version", "v3"},
                                {"algorithm", "als-implicit"},
                                {"factors", "2"},
                                {"n_items", items},
                                {"n_chunks", chunks},
                                {"chunk_size", chunk_size}}));
  };
  ASSERT_TRUE(meta("5", "3", "2").ok());
  EXPECT_EQ(meta("5", "2", "2").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(meta("5", "3", "0").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(meta("-1", "0", "2").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(meta("3000000000", "1", "3000000000").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseModelMeta(Hash({{"version", "v3"}, {"algorithm", "als-2"}, {"factors", "2"}}))
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      ParseModelMeta(Hash({{"version", "v3"}, {"algorithm", "ranker-gbdt"}, {"n_items", "4"}}))
          .status()
          .code(),
      absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseModelMeta(Hash({{"version", "v3"},
                                 {"algorithm", "als-explicit"},
                                 {"factors", "2"},
                                 {"n_items", "1"},
                                 {"n_chunks", "1"},
                                 {"chunk_size", "9"},
                                 {"global_mean", "nan"}}))
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST(ModelRecords, ChunksMustMatchTheMeta) {
  ModelMeta m;
  m.version = "v3";
  m.factors = 2;
  m.n_items = 3;
  m.chunk_size = 2;
  m.n_chunks = 2;
  const std::vector<float> f = {1, 2, 3, 4, 5, 6};
  const std::string first = EncodeItemChunk({"a", "b"}, f.data(), nullptr, 2);
  const std::string last = EncodeItemChunk({"c"}, f.data() + 4, nullptr, 2);
  {
    ItemFactorsAssembler a(m);
    ASSERT_TRUE(a.Add(first).ok());
    ASSERT_TRUE(a.Add(last).ok());
    auto items = std::move(a).Finish();
    ASSERT_TRUE(items.ok()) << items.status();
    EXPECT_EQ(items->item_ids, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(items->factors, f);
    EXPECT_TRUE(items->biases.empty());
  }
  {
    ItemFactorsAssembler a(m);  // a chunk missing
    ASSERT_TRUE(a.Add(first).ok());
    EXPECT_EQ(std::move(a).Finish().status().code(), absl::StatusCode::kDataLoss);
  }
  {
    ItemFactorsAssembler a(m);  // the short chunk first: 1 item where 2 are due
    EXPECT_EQ(a.Add(last).code(), absl::StatusCode::kDataLoss);
  }
  {
    ItemFactorsAssembler a(m);  // biases the meta does not promise
    const std::vector<float> b = {0.5f, 0.5f};
    EXPECT_EQ(a.Add(EncodeItemChunk({"a", "b"}, f.data(), b.data(), 2)).code(),
              absl::StatusCode::kDataLoss);
  }
  {
    ItemFactorsAssembler a(m);  // a NaN factor, an id that is not printable
    std::vector<float> bad = f;
    bad[1] = std::nanf("");
    EXPECT_EQ(a.Add(EncodeItemChunk({"a", "b"}, bad.data(), nullptr, 2)).code(),
              absl::StatusCode::kDataLoss);
    EXPECT_EQ(a.Add(EncodeItemChunk({"a", "\x01"}, f.data(), nullptr, 2)).code(),
              absl::StatusCode::kDataLoss);
    ASSERT_TRUE(a.Add(first).ok());  // a refused chunk left nothing behind
  }
  std::vector<std::string> ids;
  std::vector<float> out, biases;
  EXPECT_EQ(DecodeItemChunk(first, -1, &ids, &out, &biases).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeUserVector(std::string(3, 'x')).status().code(), absl::StatusCode::kDataLoss);
  const float inf = HUGE_VALF;
  EXPECT_EQ(DecodeUserVector(std::string(reinterpret_cast<const char*>(&inf), 4)).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(ModelRecords, NeighboursMustStayWithinTheMeta) {
  ModelMeta m;
  m.version = "v4";
  m.kind = ModelKind::kEase;
  m.neighbours = 1;
  m.n_items = 2;
  m.chunk_size = 10;
  m.n_chunks = 1;
  const std::vector<int64_t> indptr = {0, 2, 2};
  const std::vector<int32_t> nbr = {1, 0};
  const std::vector<float> w = {0.5f, 0.25f};
  ItemNeighboursAssembler a(m);  // item 0 has 2 weights, the meta says at most 1
  EXPECT_EQ(a.Add(EncodeNeighbourChunk({"a", "b"}, indptr.data(), nbr.data(), w.data())).code(),
            absl::StatusCode::kDataLoss);
  m.neighbours = 2;
  ItemNeighboursAssembler ok(m);
  ASSERT_TRUE(ok.Add(EncodeNeighbourChunk({"a", "b"}, indptr.data(), nbr.data(), w.data())).ok());
  auto n = std::move(ok).Finish();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->indptr, indptr);
}

TEST_F(ModelStoreTest, ReadersNeverSeeAHalfWrittenVersion) {
  // A writer publishes versions whose every float equals the version number;
  // a reader follows rs:model:current and loads what it names. A partial
  // version would show up as a load error or mixed values.
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, bad{0};
  std::thread reader([&] {
    redis::Pool pool(server().options(), 2);
    ModelStore store(pool, redis::Keyspace());
    while (!done) {
      auto v = store.CurrentVersion();
      if (!v.ok()) continue;
      auto items = store.LoadItems(*v);
      if (!items.ok()) {
        // Retention may delete a version between the two reads; that is the
        // only acceptable failure, and it is NotFound, not partial data.
        if (!absl::IsNotFound(items.status())) bad++;
        continue;
      }
      const float first = items->factors.front();
      for (float x : items->factors) {
        if (x != first) {
          bad++;
          break;
        }
      }
      if (items->item_ids.size() != 5000u) bad++;
      reads++;
    }
  });
  for (int v = 1; v <= 15; ++v) {
    ModelData m = MakeModel(50, 5000, 8, static_cast<float>(v), false);
    std::fill(m.item_factors.begin(), m.item_factors.end(), static_cast<float>(v));
    ASSERT_TRUE(
        store_->Publish(m, {.chunk_size = 512, .keep_versions = 2, .pipeline_batch = 4}).ok());
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

}  // namespace
}  // namespace recstack::model
