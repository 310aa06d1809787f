// The EASE model in Redis and in retrieval, against a real redis-server:
// the sparse model's round trip, its own slot (factor models untouched),
// per-slot retention, and the retrieval holder's hot swap and roll back.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/model/model_store.h"
#include "common/retrieval/ease_source.h"
#include "tests/support/redis/redis_server.h"

namespace recstack {
namespace {

using testing::RedisTest;

// Item i's weights: (i + 1) % n, (i + 2) % n, ... with weights 1/(r + 1),
// `per_item` each, `scale` times.
model::ModelData MakeEase(int items, int per_item, float scale) {
  model::ModelData m;
  m.meta.kind = model::ModelKind::kEase;
  m.meta.neighbours = per_item;
  m.meta.regularization = 300;
  m.meta.params["top_n"] = std::to_string(per_item);
  m.meta.metrics["ndcg@10"] = 0.48;
  m.neighbour_indptr.push_back(0);
  for (int i = 0; i < items; ++i) {
    m.item_ids.push_back("item:" + std::to_string(i));
    for (int r = 0; r < per_item; ++r) {
      m.neighbour_ids.push_back((i + r + 1) % items);
      m.neighbour_weights.push_back(scale / (r + 1));
    }
    m.neighbour_indptr.push_back(static_cast<int64_t>(m.neighbour_ids.size()));
  }
  return m;
}

model::ModelData MakeFactors(int items, int d) {
  model::ModelData m;
  m.meta.kind = model::ModelKind::kImplicitAls;
  m.meta.factors = d;
  m.user_ids = {"u1"};
  m.user_factors.assign(d, 0.5f);
  for (int i = 0; i < items; ++i) m.item_ids.push_back("item:" + std::to_string(i));
  m.item_factors.assign(static_cast<size_t>(items) * d, 0.25f);
  return m;
}

class EaseModelTest : public RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    pool_ = MakePool(4);
    store_ = std::make_unique<model::ModelStore>(*pool_, redis::Keyspace());
  }
  std::unique_ptr<redis::Pool> pool_;
  std::unique_ptr<model::ModelStore> store_;
};

TEST_F(EaseModelTest, SparseModelRoundTrip) {
  model::ModelData m = MakeEase(10, 4, 1.0f);
  auto meta = store_->Publish(m, {.chunk_size = 3});
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->n_chunks, 4);
  auto got = store_->LoadNeighbours(meta->version);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->meta.kind, model::ModelKind::kEase);
  EXPECT_EQ(got->meta.neighbours, 4);
  EXPECT_EQ(got->meta.factors, 0);
  EXPECT_FLOAT_EQ(got->meta.regularization, 300.0f);
  EXPECT_EQ(got->meta.params.at("top_n"), "4");
  EXPECT_DOUBLE_EQ(got->meta.metrics.at("ndcg@10"), 0.48);
  EXPECT_EQ(got->item_ids, m.item_ids);
  EXPECT_EQ(got->indptr, m.neighbour_indptr);
  EXPECT_EQ(got->ids, m.neighbour_ids);
  EXPECT_EQ(got->weights, m.neighbour_weights);
  // Its own slot: the factor slot is untouched, and factor readers refuse it.
  EXPECT_EQ(store_->CurrentVersion(model::Slot::kEase).value(), meta->version);
  EXPECT_EQ(store_->CurrentVersion().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->LoadItems(meta->version).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The meta is listed with its algorithm.
  auto versions = store_->ListVersions();
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ(model::ModelKindName((*versions)[0].kind), "ease");
}

// The publisher's default truncation keeps rows of different lengths (some
// empty: items with no training rows); they round-trip exactly and serve.
TEST_F(EaseModelTest, RowsOfDifferentLengthsRoundTrip) {
  const int items = 11;
  model::ModelData m = MakeEase(items, 0, 1.0f);
  m.neighbour_indptr = {0};
  for (int i = 0; i < items; ++i) {
    const int len = i % 5;  // 0 .. 4
    for (int r = 0; r < len; ++r) {
      m.neighbour_ids.push_back((i + r + 1) % items);
      m.neighbour_weights.push_back(1.0f / static_cast<float>(r + 1));
    }
    m.neighbour_indptr.push_back(static_cast<int64_t>(m.neighbour_ids.size()));
  }
  m.meta.neighbours = 4;  // the longest row
  m.meta.params["top_n"] = "2";
  m.meta.params["truncation"] = "importance";
  auto meta = store_->Publish(m, {.chunk_size = 3});
  ASSERT_TRUE(meta.ok()) << meta.status();
  auto got = store_->LoadNeighbours(meta->version);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->indptr, m.neighbour_indptr);
  EXPECT_EQ(got->ids, m.neighbour_ids);
  EXPECT_EQ(got->weights, m.neighbour_weights);
  EXPECT_EQ(got->meta.params.at("truncation"), "importance");
  auto served = retrieval::BuildEaseServingModel(*std::move(got));
  // item:5 keeps nothing; item:4 keeps 4 (items 5-8).
  EXPECT_TRUE(retrieval::EaseRecommend(*served, {"item:5"}, {}, 3, 10).empty());
  auto c = retrieval::EaseRecommend(*served, {"item:5", "item:4"}, {"item:5", "item:4"}, 10, 10);
  ASSERT_EQ(c.size(), 3u);  // items 6-8: item:5, seen, is blocked
  EXPECT_EQ(c[0].item_id, "item:6");
  EXPECT_EQ(c[0].because_item_id, "item:4");
}

TEST_F(EaseModelTest, BadSparseModelsAreRefused) {
  model::ModelData m = MakeEase(5, 2, 1.0f);
  m.neighbour_ids[3] = 7;  // no item 7
  EXPECT_EQ(store_->Publish(m, {}).status().code(), absl::StatusCode::kInvalidArgument);
  m = MakeEase(5, 2, 1.0f);
  m.meta.neighbours = 1;  // rows hold 2
  EXPECT_EQ(store_->Publish(m, {}).status().code(), absl::StatusCode::kInvalidArgument);
  m = MakeEase(5, 2, 1.0f);
  m.neighbour_indptr.pop_back();
  EXPECT_EQ(store_->Publish(m, {}).status().code(), absl::StatusCode::kInvalidArgument);
  // A garbled chunk is data loss, not a crash.
  model::ItemNeighbours out;
  std::string chunk = model::EncodeNeighbourChunk(
      {"a", "b"}, m.neighbour_indptr.data(), m.neighbour_ids.data(), m.neighbour_weights.data());
  EXPECT_TRUE(model::DecodeNeighbourChunk(chunk, 5, &out).ok());
  model::ItemNeighbours out2;
  EXPECT_EQ(model::DecodeNeighbourChunk(chunk.substr(0, chunk.size() - 3), 5, &out2).code(),
            absl::StatusCode::kDataLoss);
  model::ItemNeighbours out3;
  EXPECT_EQ(model::DecodeNeighbourChunk(chunk, 1, &out3).code(), absl::StatusCode::kDataLoss);
}

TEST_F(EaseModelTest, SlotsAreRetainedSeparately) {
  auto f1 = store_->Publish(MakeFactors(4, 2), {.keep_versions = 2});
  ASSERT_TRUE(f1.ok());
  std::vector<std::string> ease_versions;
  for (int i = 0; i < 4; ++i) {
    auto e = store_->Publish(MakeEase(4, 2, 1.0f + i), {.keep_versions = 2});
    ASSERT_TRUE(e.ok()) << e.status();
    ease_versions.push_back(e->version);
  }
  // The factor model survives four ease publishes; ease keeps its newest 2.
  EXPECT_TRUE(store_->GetMeta(f1->version).ok());
  EXPECT_EQ(store_->CurrentVersion().value(), f1->version);
  EXPECT_FALSE(store_->GetMeta(ease_versions[0]).ok());
  EXPECT_FALSE(store_->GetMeta(ease_versions[1]).ok());
  EXPECT_TRUE(store_->GetMeta(ease_versions[2]).ok());
  EXPECT_EQ(store_->CurrentVersion(model::Slot::kEase).value(), ease_versions[3]);
  // Neither current version may be deleted.
  EXPECT_EQ(store_->DeleteVersion(ease_versions[3]).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->DeleteVersion(f1->version).code(), absl::StatusCode::kFailedPrecondition);
}

bool WaitFor(const std::function<bool()>& cond) {
  for (int i = 0; i < 500 && !cond(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return cond();
}

TEST_F(EaseModelTest, RetrievalHolderHotSwapsAndRollsBack) {
  retrieval::EaseModelHolder holder(*store_, server().options(), redis::Keyspace(),
                                    std::chrono::milliseconds(200));
  holder.Start();
  EXPECT_EQ(holder.Current(), nullptr);
  auto v1 = store_->Publish(MakeEase(6, 3, 1.0f), {});
  ASSERT_TRUE(v1.ok());
  ASSERT_TRUE(
      WaitFor([&] { return holder.Current() && holder.Current()->meta.version == v1->version; }));
  auto first = holder.Current();
  auto v2 = store_->Publish(MakeEase(6, 3, 2.0f), {});
  ASSERT_TRUE(v2.ok());
  ASSERT_TRUE(WaitFor([&] { return holder.Current()->meta.version == v2->version; }));
  // A request holding the old version keeps it whole.
  EXPECT_EQ(first->meta.version, v1->version);
  EXPECT_FLOAT_EQ(first->weights[0], 1.0f);
  EXPECT_FLOAT_EQ(holder.Current()->weights[0], 2.0f);
  // Roll back.
  ASSERT_TRUE(store_->Promote(v1->version).ok());
  ASSERT_TRUE(WaitFor([&] { return holder.Current()->meta.version == v1->version; }));
  // A factor model published meanwhile does not disturb the ease slot.
  ASSERT_TRUE(store_->Publish(MakeFactors(6, 2), {}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(holder.Current()->meta.version, v1->version);
  // Served: item:0 and item:3 as history; weights 1, 1/2, 1/3 to the next 3.
  auto cands = retrieval::EaseRecommend(*holder.Current(), {"item:0", "item:3"},
                                        {"item:0", "item:3"}, 3, 100);
  ASSERT_EQ(cands.size(), 3u);
  EXPECT_EQ(cands[0].item_id, "item:1");  // 1 from item:0
  EXPECT_EQ(cands[1].item_id, "item:4");  // 1 from item:3 (ties by index)
  EXPECT_EQ(cands[0].because_item_id, "item:0");
  EXPECT_EQ(cands[1].because_item_id, "item:3");
  holder.Stop();
}

}  // namespace
}  // namespace recstack
