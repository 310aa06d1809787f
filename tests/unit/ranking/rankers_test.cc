#include <cmath>
#include <map>

#include <gtest/gtest.h>

#include "services/ranking/experiments.h"
#include "services/ranking/rankers.h"

namespace recstack::ranking {
namespace {

FeatureRow Row(double score, int position, double overlap = 0, double age = 0) {
  FeatureRow r;
  r.item_id = "i" + std::to_string(position);
  r.f[kRetrievalScore] = score;
  r.f[kRetrievalPosition] = position;
  r.f[kCategoryOverlap] = overlap;
  r.f[kItemAgeDays] = age;
  return r;
}

TEST(Linear, ScoreIsTheSumOfItsContributions) {
  auto r = LinearRanker::Create({{"weight.retrieval_score", "2"}, {"weight.category_overlap", "1"},
                                 {"weight.popularity", "0"}, {"weight.item_age_days", "0"},
                                 {"weight.retrieval_position", "0"}});
  ASSERT_TRUE(r.ok()) << r.status();
  Scored s = (*r)->Score(Row(0.5, 3, 0.25));
  EXPECT_DOUBLE_EQ(s.score, 2 * 0.5 + 1 * 0.25);
  double sum = 0;
  for (const auto& c : s.contributions) sum += c.contribution;
  EXPECT_DOUBLE_EQ(sum, s.score);
  ASSERT_EQ(s.contributions.size(), 2u);
  EXPECT_EQ(s.contributions[0].feature, kRetrievalScore);
  EXPECT_FALSE(LinearRanker::Create({{"weight.shoe_size", "1"}}).ok());
  EXPECT_FALSE(LinearRanker::Create({{"weight.popularity", "lots"}}).ok());
}

TEST(Passthrough, KeepsRetrievalOrder) {
  PassthroughRanker p;
  EXPECT_GT(p.Score(Row(0.1, 0)).score, p.Score(Row(0.9, 1)).score);
}

TEST(Recency, HalvesTheScoreEveryHalfLife) {
  auto r = RecencyRanker::Create({{"half_life_days", "10"}});
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ((*r)->Score(Row(0.8, 0, 0, 0)).score, 0.8);
  EXPECT_NEAR((*r)->Score(Row(0.8, 0, 0, 10)).score, 0.4, 1e-12);
  EXPECT_NEAR((*r)->Score(Row(0.8, 0, 0, 20)).score, 0.2, 1e-12);
  EXPECT_FALSE(RecencyRanker::Create({{"half_life_days", "-1"}}).ok());
}

TEST(Registry, UnknownRankerNamesTheKnownOnes) {
  auto reg = RankerRegistry::WithBuiltins();
  auto r = reg.Create("neural", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("linear, passthrough, recency"), std::string::npos);
  EXPECT_EQ(SplitMmr("linear+mmr"), (std::pair<std::string, bool>{"linear", true}));
  EXPECT_EQ(SplitMmr("linear"), (std::pair<std::string, bool>{"linear", false}));
  reg.Register("constant", "always 1", [](const RankerParams&) -> absl::StatusOr<std::unique_ptr<Ranker>> {
    struct One : Ranker {
      Scored Score(const FeatureRow&) const override { return {1.0, {}}; }
    };
    return std::make_unique<One>();
  });
  EXPECT_TRUE(reg.Has("constant"));
  EXPECT_EQ((*reg.Create("constant", {}))->Score(Row(0, 0)).score, 1.0);
}

TEST(Mmr, PrefersDiverseItems) {
  // Items 0 and 1 are near-duplicates; 2 is different and a bit less relevant.
  const float a[2] = {1, 0}, b[2] = {0.99f, 0.01f}, c[2] = {0, 1};
  std::vector<double> scores = {1.0, 0.95, 0.9};
  std::vector<const float*> vecs = {a, b, c};
  auto pure = MmrRerank(scores, vecs, 2, 1.0, 3);  // lambda 1: relevance only
  EXPECT_EQ(pure, (std::vector<int>{0, 1, 2}));
  auto diverse = MmrRerank(scores, vecs, 2, 0.5, 3);
  EXPECT_EQ(diverse, (std::vector<int>{0, 2, 1}));
  auto unknown = MmrRerank(scores, {nullptr, nullptr, nullptr}, 2, 0.5, 2);
  EXPECT_EQ(unknown, (std::vector<int>{0, 1}));
}

TEST(Experiments, StableAssignmentCloseToTrafficShares) {
  auto reg = RankerRegistry::WithBuiltins();
  auto exps = ParseExperiments(R"({"experiments":[{"name":"e","salt":"s1","variants":[
      {"name":"a","ranker":"linear","traffic":0.3},{"name":"b","ranker":"recency+mmr","traffic":0.7,
       "params":{"half_life_days":"20"}}]}]})",
                               reg);
  ASSERT_TRUE(exps.ok()) << exps.status();
  std::map<std::string, int> counts;
  const int n = 20000;
  for (int u = 0; u < n; ++u) counts[Assign((*exps)[0], "user" + std::to_string(u)).name]++;
  EXPECT_NEAR(counts["a"] / static_cast<double>(n), 0.3, 0.02);
  EXPECT_NEAR(counts["b"] / static_cast<double>(n), 0.7, 0.02);
  // Stable: the same user, the same variant, every time (and a fixed hash).
  EXPECT_EQ(Assign((*exps)[0], "alice").name, Assign((*exps)[0], "alice").name);
  EXPECT_EQ(HashToUnit("s1", "alice"), HashToUnit("s1", "alice"));
  EXPECT_NE(HashToUnit("s1", "alice"), HashToUnit("s2", "alice"));
  EXPECT_EQ((*exps)[0].variants[1].params.at("half_life_days"), "20");
}

TEST(Experiments, BadConfigsAreRejected) {
  auto reg = RankerRegistry::WithBuiltins();
  EXPECT_FALSE(ParseExperiments("not json", reg).ok());
  EXPECT_FALSE(ParseExperiments(R"({"experiments":[]})", reg).ok());
  auto sum = ParseExperiments(R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"linear","traffic":0.5}]}]})", reg);
  ASSERT_FALSE(sum.ok());
  EXPECT_NE(std::string(sum.status().message()).find("sum to 0.5"), std::string::npos);
  auto unknown = ParseExperiments(R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"magic","traffic":1}]}]})", reg);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(std::string(unknown.status().message()).find("unknown ranker 'magic'"), std::string::npos);
}

}  // namespace
}  // namespace recstack::ranking
