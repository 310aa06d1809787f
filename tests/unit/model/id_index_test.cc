// IdIndex: item id -> row, against std::unordered_map as the reference.
#include "common/model/id_index.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace recstack::model {
namespace {

TEST(IdIndex, FindsEveryRowAndNothingElse) {
  const std::vector<std::string> ids = {"i1", "i2", "", "a-long-item-id-past-the-small-string",
                                        "i10"};
  IdIndex index(ids);
  EXPECT_EQ(index.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(index.Find(ids[i]), static_cast<int32_t>(i));
  EXPECT_EQ(index.Find("i3"), -1);
  EXPECT_EQ(index.Find("i"), -1);  // a prefix of a key
  EXPECT_EQ(index.Find("i100"), -1);
  EXPECT_EQ(index.Find(std::string("i1\0", 3)), -1);  // bytes, not C strings
}

TEST(IdIndex, ARepeatedIdKeepsItsFirstRow) {
  IdIndex index({"a", "b", "a", "c", "b"});
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.Find("a"), 0);
  EXPECT_EQ(index.Find("b"), 1);
  EXPECT_EQ(index.Find("c"), 3);
}

TEST(IdIndex, EmptyIndexFindsNothing) {
  IdIndex none;
  EXPECT_EQ(none.Find("x"), -1);
  std::vector<int32_t> rows = {7};
  const std::vector<std::string> q = {"x", "y"};
  none.FindAll(q, &rows);
  EXPECT_EQ(rows, (std::vector<int32_t>{-1, -1}));
  IdIndex empty(std::vector<std::string>{});
  EXPECT_EQ(empty.Find(""), -1);
}

TEST(IdIndex, AgreesWithAHashMapOnAHundredThousandIds) {
  // Random ids of varied length, some colliding in their low hash bits
  // (linear probing runs through them), looked up one by one and in
  // batches, with as many absent ids as present ones.
  std::mt19937_64 rng(42);
  std::vector<std::string> ids;
  std::unordered_map<std::string, int32_t> ref;
  while (ids.size() < 100'000) {
    std::string id = "i" + std::to_string(rng() % 10'000'000);
    if (rng() % 4 == 0) id += std::string(rng() % 40, 'x');
    if (ref.emplace(id, static_cast<int32_t>(ids.size())).second) ids.push_back(id);
  }
  IdIndex index(ids);
  ASSERT_EQ(index.size(), ids.size());
  std::vector<std::string> queries;
  for (int i = 0; i < 20'000; ++i) {
    queries.push_back(ids[rng() % ids.size()]);
    queries.push_back("j" + std::to_string(rng()));
  }
  std::vector<std::string_view> views(queries.begin(), queries.end());
  std::vector<int32_t> batch, batch_views;
  index.FindAll(queries, &batch);
  index.FindAll(views, &batch_views);
  ASSERT_EQ(batch.size(), queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    auto it = ref.find(queries[i]);
    const int32_t want = it == ref.end() ? -1 : it->second;
    ASSERT_EQ(index.Find(queries[i]), want) << queries[i];
    ASSERT_EQ(batch[i], want) << queries[i];
    ASSERT_EQ(batch_views[i], want) << queries[i];
  }
  EXPECT_GT(index.bytes(), 0u);
}

}  // namespace
}  // namespace recstack::model
