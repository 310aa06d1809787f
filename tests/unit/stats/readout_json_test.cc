#include "common/stats/readout_json.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace recstack::stats {
namespace {

std::set<std::string> Keys(const nlohmann::json& j) {
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  return keys;
}

VariantData Users(const std::string& name, const std::string& ranker, int n, int clicked) {
  VariantData v{.name = name, .ranker = ranker, .expected_share = 0.5, .users = {}};
  for (int i = 0; i < n; ++i) v.users.push_back({4, i < clicked ? 1 : 0});
  return v;
}

TEST(ReadoutJson, ExactKeysAndValues) {
  auto r =
      ComputeReadout("home-ranker", {Users("A", "linear", 200, 20), Users("B", "gbdt", 220, 30)});
  ASSERT_TRUE(r.ok()) << r.status();
  const nlohmann::json j = ReadoutToJson(*r);
  EXPECT_EQ(Keys(j), (std::set<std::string>{"experiment", "variants", "comparisons", "srm_p_value",
                                            "mde_rel"}));
  EXPECT_EQ(j["experiment"], "home-ranker");
  ASSERT_EQ(j["variants"].size(), 2u);
  const nlohmann::json& b = j["variants"][1];
  EXPECT_EQ(Keys(b), (std::set<std::string>{"name", "ranker", "users", "impressions", "clicks",
                                            "ctr", "ctr_ci"}));
  EXPECT_EQ(b["name"], "B");
  EXPECT_EQ(b["ranker"], "gbdt");
  EXPECT_EQ(b["users"], 220);
  EXPECT_EQ(b["impressions"], 880);
  EXPECT_EQ(b["clicks"], 30);
  EXPECT_DOUBLE_EQ(b["ctr"].get<double>(), 30.0 / 880);
  ASSERT_EQ(b["ctr_ci"].size(), 2u);
  EXPECT_DOUBLE_EQ(b["ctr_ci"][0].get<double>(), r->variants[1].ctr_ci.lo);
  ASSERT_EQ(j["comparisons"].size(), 1u);
  const nlohmann::json& c = j["comparisons"][0];
  EXPECT_EQ(Keys(c), (std::set<std::string>{"variant", "control", "abs_lift", "abs_lift_ci",
                                            "rel_lift", "rel_lift_ci", "p_value"}));
  EXPECT_EQ(c["variant"], "B");
  EXPECT_EQ(c["control"], "A");
  EXPECT_DOUBLE_EQ(c["rel_lift"].get<double>(), r->comparisons[0].rel_lift);
  EXPECT_DOUBLE_EQ(c["rel_lift_ci"][1].get<double>(), r->comparisons[0].rel_lift_ci.hi);
  EXPECT_DOUBLE_EQ(c["p_value"].get<double>(), r->comparisons[0].p_value);
  EXPECT_DOUBLE_EQ(j["srm_p_value"].get<double>(), r->srm_p_value);
  EXPECT_DOUBLE_EQ(j["mde_rel"].get<double>(), r->mde_rel);
  // Round-trips through text (no NaN or infinity in the output).
  EXPECT_EQ(nlohmann::json::parse(j.dump()), j);
}

TEST(ReadoutJson, UndefinedValuesAreNull) {
  auto r = ComputeReadout("z", {Users("A", "linear", 50, 0), Users("B", "gbdt", 50, 3)});
  ASSERT_TRUE(r.ok()) << r.status();
  const nlohmann::json j = ReadoutToJson(*r);
  EXPECT_TRUE(j["comparisons"][0]["rel_lift"].is_null());
  EXPECT_TRUE(j["comparisons"][0]["rel_lift_ci"][0].is_null());
  EXPECT_TRUE(j["mde_rel"].is_null());
  EXPECT_TRUE(j["comparisons"][0]["abs_lift"].is_number());
}

TEST(ReadoutJson, TheReportAddsControlSrmChi2EachComparisonsMdeAndEachVariantsUserVariance) {
  auto r =
      ComputeReadout("home-ranker", {Users("A", "linear", 200, 20), Users("B", "gbdt", 220, 30)});
  ASSERT_TRUE(r.ok()) << r.status();
  const nlohmann::json j = ReadoutReportJson(*r);
  EXPECT_EQ(Keys(j), (std::set<std::string>{"experiment", "control", "variants", "comparisons",
                                            "srm_chi2", "srm_p_value", "mde_rel"}));
  EXPECT_EQ(j["control"], "A");
  EXPECT_DOUBLE_EQ(j["srm_chi2"].get<double>(), r->srm_chi2);
  const nlohmann::json& c = j["comparisons"][0];
  EXPECT_EQ(Keys(c), (std::set<std::string>{"variant", "control", "abs_lift", "abs_lift_ci",
                                            "rel_lift", "rel_lift_ci", "p_value", "mde_rel"}));
  EXPECT_DOUBLE_EQ(c["mde_rel"].get<double>(), r->comparisons[0].mde_rel);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_DOUBLE_EQ(j["variants"][i]["user_variance"].get<double>(), r->variants[i].user_variance);
  }
  // Everything else is ReadoutToJson's.
  nlohmann::json base = j;
  base.erase("control");
  base.erase("srm_chi2");
  base["comparisons"][0].erase("mde_rel");
  for (auto& v : base["variants"]) v.erase("user_variance");
  EXPECT_EQ(base, ReadoutToJson(*r));
}

}  // namespace
}  // namespace recstack::stats
