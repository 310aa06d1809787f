#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "common/rank/experiments.h"
#include "common/rank/rankers.h"

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
  auto r = LinearRanker::Create({{"weight.retrieval_score", "2"},
                                 {"weight.category_overlap", "1"},
                                 {"weight.popularity", "0"},
                                 {"weight.item_age_days", "0"},
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
  EXPECT_NE(std::string(r.status().message()).find("linear, passthrough, recency"),
            std::string::npos);
  EXPECT_EQ(SplitMmr("linear+mmr"), (std::pair<std::string, bool>{"linear", true}));
  EXPECT_EQ(SplitMmr("linear"), (std::pair<std::string, bool>{"linear", false}));
  reg.Register("constant", "always 1",
               [](const RankerParams&) -> absl::StatusOr<std::unique_ptr<Ranker>> {
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
  const std::string config = R"({"experiments":[{"name":"e","salt":"s1","variants":[
      {"name":"a","ranker":"linear","traffic":0.2},{"name":"b","ranker":"recency+mmr","traffic":0.5,
       "params":{"half_life_days":"20"}},{"name":"c","ranker":"passthrough","traffic":0.3}]}]})";
  auto exps = ParseExperiments(config, RegistryCheck(reg));
  ASSERT_TRUE(exps.ok()) << exps.status();
  const Experiment& e = (*exps)[0];
  ASSERT_EQ(e.variants.size(), 3u);
  EXPECT_EQ(e.variants[1].params.at("half_life_days"), "20");
  const std::map<std::string, double> shares = {{"a", 0.2}, {"b", 0.5}, {"c", 0.3}};

  const int n = 20000;
  auto user = [](int u) { return "user" + std::to_string(u); };
  std::vector<std::string> first(n);
  std::map<std::string, int> counts;
  for (int u = 0; u < n; ++u) {
    first[u] = Assign(e, user(u)).name;
    counts[first[u]]++;
  }

  // Stable: a later call gives every user the variant of the first one, in
  // another order (no state carried between calls) and from a fresh parse
  // of the same config (as another process or a restart would have it).
  auto reparsed = ParseExperiments(config, RegistryCheck(reg));
  ASSERT_TRUE(reparsed.ok()) << reparsed.status();
  int moved = 0;
  for (int u = n - 1; u >= 0; --u) {
    moved += Assign(e, user(u)).name != first[u];
    moved += Assign((*reparsed)[0], user(u)).name != first[u];
  }
  EXPECT_EQ(moved, 0) << "users changed variant between calls";
  // And across releases and machines: the hash is part of the contract (a
  // change would move users between variants mid-experiment). The values
  // were computed outside this code (a Python FNV-1a 64 of "<salt>:<user>",
  // splitmix64 finaliser, top 53 bits / 2^53) and are exact doubles.
  EXPECT_EQ(HashToUnit("s1", "alice"), 0x1.aa6e0958319f0p-5);  // 0.0521
  EXPECT_EQ(HashToUnit("s2", "alice"), 0x1.b9e19f84eee37p-1);  // 0.8630
  EXPECT_EQ(Assign(e, "alice").name, "a");                     // [0, 0.2) is a

  // Close to the shares. With an ideal hash each user lands in variant v
  // independently with probability p_v, so its count is Binomial(n, p_v):
  // mean n p_v, standard deviation sqrt(n p_v (1 - p_v)); n = 20000 gives
  // 57 users (0.28%) for p = 0.2, 71 (0.35%) for 0.5, 65 (0.32%) for 0.3.
  // A deviation beyond 5 standard deviations has probability < 6e-7 for a
  // uniform hash, so failing it means the hash (or the walk over the
  // cumulative shares) is biased, not bad luck. (The users are fixed, so
  // the test is deterministic: it either always passes or always fails.)
  for (const auto& [name, p] : shares) {
    const double mean = n * p, sd = std::sqrt(n * p * (1 - p));
    EXPECT_LE(std::abs(counts[name] - mean), 5 * sd)
        << name << ": " << counts[name] << " users, expected " << mean << " +- " << 5 * sd;
  }
  EXPECT_EQ(counts.size(), shares.size()) << "a user landed outside the configured variants";

  // Independent between salts: under another salt a user's variant is a
  // fresh draw, so it matches the first one with probability
  // q = sum p_v^2 = 0.38 (Binomial(n, q) again, 5 standard deviations).
  Experiment other = e;
  other.salt = "s2";
  int same = 0;
  for (int u = 0; u < n; ++u) same += Assign(other, user(u)).name == first[u];
  const double q = 0.2 * 0.2 + 0.5 * 0.5 + 0.3 * 0.3;
  EXPECT_LE(std::abs(same - n * q), 5 * std::sqrt(n * q * (1 - q))) << same << " of " << n;
}

TEST(Experiments, BadConfigsAreRejected) {
  auto reg = RankerRegistry::WithBuiltins();
  EXPECT_FALSE(ParseExperiments("not json", RegistryCheck(reg)).ok());
  EXPECT_FALSE(ParseExperiments(R"({"experiments":[]})", RegistryCheck(reg)).ok());
  auto sum = ParseExperiments(
      R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"linear","traffic":0.5}]}]})",
      RegistryCheck(reg));
  ASSERT_FALSE(sum.ok());
  EXPECT_NE(std::string(sum.status().message()).find("sum to 0.5"), std::string::npos);
  auto unknown = ParseExperiments(
      R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"magic","traffic":1}]}]})",
      RegistryCheck(reg));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(std::string(unknown.status().message()).find("unknown ranker 'magic'"),
            std::string::npos);
  auto dup = ParseExperiments(
      R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"linear","traffic":0.5},)"
      R"({"name":"a","ranker":"recency","traffic":0.5}]}]})",
      RegistryCheck(reg));
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(std::string(dup.status().message()).find("two variants are named a"),
            std::string::npos);
  // Members of the wrong type are refused, not thrown (found fuzzing the
  // parser), and so are params the ranking engine could not use.
  for (
      const char* bad :
      {R"({"experiments":[1]})",
       R"({"experiments":[{"name":5,"variants":[{"name":"a","ranker":"linear","traffic":1}]}]})",
       R"({"experiments":[{"name":"e","variants":["a"]}]})",
       R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"linear","traffic":"1"}]}]})",
       R"({"experiments":[{"name":"e","salt":[],"variants":[{"name":"a","ranker":"linear","traffic":1}]}]})",
       R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"linear+mmr","traffic":1,"params":{"mmr_lambda":"nan"}}]}]})",
       R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"linear","traffic":1,"params":{"mmr_lambda":1.5}}]}]})",
       R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"linear","traffic":1,"params":{"candidates":"0"}}]}]})",
       R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"linear","traffic":1,"params":{"x":[1]}}]}]})"}) {
    auto r = ParseExperiments(bad, RegistryCheck(reg));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto numbers = ParseExperiments(
      R"({"experiments":[{"name":"e","variants":[{"name":"a","ranker":"linear+mmr","traffic":1,)"
      R"("params":{"mmr_lambda":0.25,"candidates":"50","weight.popularity":0.5}}]}]})",
      RegistryCheck(reg));
  ASSERT_TRUE(numbers.ok()) << numbers.status();
  EXPECT_EQ((*numbers)[0].variants[0].params.at("mmr_lambda"), "0.25");
}

TEST(Mmr, ANanPicksTheRestInsteadOfIndexMinusOne) {
  // Every value NaN (a NaN lambda) or some (a NaN score): k distinct picks.
  const float a[2] = {1, 0}, b[2] = {0, 1};
  const std::vector<const float*> vecs = {a, b, a};
  for (double lambda : {std::nan(""), 0.5}) {
    auto order = MmrRerank({1, std::nan(""), 0.5}, vecs, 2, lambda, 3);
    ASSERT_EQ(order.size(), 3u);
    EXPECT_EQ(std::set<int>(order.begin(), order.end()), (std::set<int>{0, 1, 2}));
  }
}

TEST(Registry, VersionPinsReachTheFactoryAsAParam) {
  RankerRegistry reg;
  std::string seen;
  reg.Register("m", "test", [&](const RankerParams& p) -> absl::StatusOr<std::unique_ptr<Ranker>> {
    seen = p.count("version") ? p.at("version") : "(none)";
    return std::make_unique<PassthroughRanker>();
  });
  ASSERT_TRUE(reg.Create("m@v7", {}).ok());
  EXPECT_EQ(seen, "v7");
  ASSERT_TRUE(reg.Create("m", {}).ok());
  EXPECT_EQ(seen, "(none)");
  EXPECT_TRUE(reg.Has("m@v3"));
  EXPECT_FALSE(reg.Has("n@v3"));
  EXPECT_EQ(SplitVersion("gbdt@v12"), (std::pair<std::string, std::string>{"gbdt", "v12"}));
}

}  // namespace
}  // namespace recstack::ranking
