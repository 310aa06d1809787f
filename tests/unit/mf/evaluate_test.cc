#include "common/mf/evaluate.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/mf/dataset.h"
#include "common/mf/trainer.h"

namespace recstack::mf {
namespace {

TEST(Metrics, HandComputed) {
  // Ranked [5, 1, 9, 2], relevant {1, 2, 7}, k = 4.
  RankingMetrics m;
  AddUserMetrics({5, 1, 9, 2}, {1, 2, 7}, 3, 4, &m);
  EXPECT_DOUBLE_EQ(m.precision, 2.0 / 4);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3);
  const double dcg = 1 / std::log2(3.0) + 1 / std::log2(5.0);
  const double idcg = 1 + 1 / std::log2(3.0) + 1 / std::log2(4.0);
  EXPECT_NEAR(m.ndcg, dcg / idcg, 1e-12);
  EXPECT_NEAR(m.map, (1.0 / 2 + 2.0 / 4) / 3, 1e-12);
  // Ideal DCG over min(k, relevant): one relevant item at rank 1 is perfect.
  RankingMetrics one;
  AddUserMetrics({4, 8}, {4}, 1, 2, &one);
  EXPECT_DOUBLE_EQ(one.ndcg, 1.0);
  EXPECT_DOUBLE_EQ(one.map, 1.0);
}

TEST(Split, StratifiedAndLeaveLast) {
  Dataset d;
  for (int u = 0; u < 3; ++u) {
    d.users.Intern("u" + std::to_string(u));
    for (int i = 0; i < 8; ++i) {
      d.rows.push_back({u, d.items.Intern("i" + std::to_string(i)), 1.0f});
      d.timestamps.push_back(1000 * (8 - i));  // item 7 is the oldest
    }
  }
  std::vector<Row> train, test;
  ASSERT_TRUE(Split(d, *ParseSplit("stratified:0.75"), 42, &train, &test).ok());
  EXPECT_EQ(train.size(), 18u);
  EXPECT_EQ(test.size(), 6u);
  std::vector<Row> train2, test2;
  ASSERT_TRUE(Split(d, *ParseSplit("stratified:0.75"), 42, &train2, &test2).ok());
  for (size_t j = 0; j < test.size(); ++j) EXPECT_EQ(test[j].item, test2[j].item);  // seeded
  ASSERT_TRUE(Split(d, *ParseSplit("last:1"), 0, &train, &test).ok());
  ASSERT_EQ(test.size(), 3u);
  for (const Row& r : test) EXPECT_EQ(d.items.Name(r.item), "i0");  // the newest
  EXPECT_FALSE(ParseSplit("stratified:1.5").ok());
  EXPECT_FALSE(ParseSplit("random").ok());
}

TEST(TestSet, UnknownRowsAreCountedNotFailed) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("recstack-ts-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/train.csv") << "a,x,5\na,y,3\nb,x,4\nb,z,2\n";
  std::ofstream(dir + "/test.csv") << "a,z,4\nc,x,3\nb,w,5\n";
  auto train = LoadDataset(dir + "/train.csv", {.format = data::Format::kCsv});
  ASSERT_TRUE(train.ok());
  auto test = LoadTestSet(dir + "/test.csv", data::Format::kCsv, *train);
  ASSERT_TRUE(test.ok());
  EXPECT_EQ(test->unknown_user_rows, 1);
  EXPECT_EQ(test->unknown_item_rows, 1);
  TrainConfig cfg;
  cfg.algorithm = Algorithm::kExplicitAls;
  cfg.als = {.factors = 2, .iterations = 3, .regularization = 0.1f};
  auto res = Train(train->users.size(), train->items.size(), train->rows, test->rows, cfg);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->metrics.at("fallback_rows"), 2);
  EXPECT_EQ(res->metrics.at("test_rows"), 3);
  EXPECT_TRUE(std::isfinite(res->metrics.at("rmse")));
  cfg.algorithm = Algorithm::kImplicitAls;
  res = Train(train->users.size(), train->items.size(), train->rows, test->rows, cfg);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->metrics.at("eval_users"), 3);  // a, b and the unknown c
  EXPECT_EQ(res->metrics.at("unknown_test_rows"), 2);
  auto malformed = LoadTestSet(dir + "/missing.csv", data::Format::kCsv, *train);
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir + "/bad.csv") << "a,x,5\na,y\n";
  auto bad = LoadTestSet(dir + "/bad.csv", data::Format::kCsv, *train);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("bad.csv:2"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Trainer, MovieLensExplicitAndImplicit) {
  const std::string d = std::string(RECSTACK_DATA_DIR) + "/ml-100k/";
  auto train = LoadDataset(d + "u1.base", {.format = data::Format::kMovieLens});
  ASSERT_TRUE(train.ok());
  auto test = LoadTestSet(d + "u1.test", data::Format::kMovieLens, *train);
  ASSERT_TRUE(test.ok());
  EXPECT_EQ(test->unknown_item_rows, 32);  // u1.test has 32 rows of items u1.base lacks
  TrainConfig cfg;
  cfg.algorithm = Algorithm::kExplicitAls;
  cfg.als = {.factors = 16, .iterations = 10, .regularization = 0.08f};
  auto res = Train(train->users.size(), train->items.size(), train->rows, test->rows, cfg);
  ASSERT_TRUE(res.ok());
  EXPECT_LT(res->metrics.at("rmse"), 0.96);  // far better than the mean (1.15)
  EXPECT_GT(res->metrics.at("rmse"), 0.85);
  EXPECT_EQ(res->history.size(), 10u);
}

}  // namespace
}  // namespace recstack::mf
