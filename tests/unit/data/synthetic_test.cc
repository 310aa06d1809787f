#include "common/data/synthetic.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/data/loaders.h"

namespace recstack::data {
namespace {

std::filesystem::path TempRoot() {
  return std::filesystem::temp_directory_path() / ("recstack-synth-" + std::to_string(::getpid()));
}

std::string TempDir(const std::string& name) { return (TempRoot() / name).string(); }

class Synthetic : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove_all(TempRoot()); }
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(Synthetic, DeterministicForASeed) {
  SyntheticParams p{.users = 300, .items = 200, .interactions = 6000, .seed = 11};
  auto a = GenerateSynthetic(p, TempDir("a"));
  auto b = GenerateSynthetic(p, TempDir("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Slurp(TempDir("a") + "/interactions.csv"), Slurp(TempDir("b") + "/interactions.csv"));
  for (const char* f : {"/items.csv", "/truth/user_factors.npy", "/truth/item_factors.npy",
                        "/truth/item_log_popularity.npy", "/truth/truth.json"}) {
    EXPECT_EQ(Slurp(TempDir("a") + f), Slurp(TempDir("b") + f)) << f;
  }
  p.seed = 12;
  ASSERT_TRUE(GenerateSynthetic(p, TempDir("c")).ok());
  EXPECT_NE(Slurp(TempDir("a") + "/interactions.csv"), Slurp(TempDir("c") + "/interactions.csv"));
}

TEST_F(Synthetic, CountsSkewAndPlantedAffinity) {
  SyntheticParams p{.users = 1000, .items = 500, .interactions = 30000, .seed = 5};
  const std::string dir = TempDir("d");
  auto sum = GenerateSynthetic(p, dir);
  ASSERT_TRUE(sum.ok()) << sum.status();
  // Within 15% of the target (clipping and rounding move it a little).
  EXPECT_NEAR(static_cast<double>(sum->interactions), 30000.0, 4500.0);
  // Zipf: the top 1% of items take far more than 1% of the interactions.
  EXPECT_GT(sum->top1pct_item_share, 0.05);
  auto rows = LoadInteractions(dir + "/interactions.csv", Format::kAuto);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(static_cast<int64_t>(rows->size()), sum->interactions);
  auto truth = GroundTruth::Load(dir);
  ASSERT_TRUE(truth.ok()) << truth.status();
  EXPECT_EQ(truth->num_users(), 1000);
  // Interacted pairs have a clearly higher planted affinity than random pairs.
  double inter = 0, random = 0;
  for (const auto& r : *rows) inter += *truth->Affinity(r.user, r.item);
  inter /= static_cast<double>(rows->size());
  for (int u = 0; u < 1000; ++u) {
    random += *truth->Affinity(absl::StrCat("u", u), absl::StrCat("i", (u * 7) % 500));
  }
  random /= 1000;
  EXPECT_GT(inter, random + 0.5);
  // Timestamps fall in the window, in time order per user.
  std::map<std::string, int64_t> last;
  for (const auto& r : *rows) {
    EXPECT_GE(r.timestamp_ms, p.end_time_ms - p.days * 86'400'000LL);
    EXPECT_LT(r.timestamp_ms, p.end_time_ms);
    EXPECT_GE(r.timestamp_ms, last[r.user]);
    last[r.user] = r.timestamp_ms;
  }
  // The click model: a true top item clicks far more often than a random one.
  auto top = truth->TrueTopK("u1", 10);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 10u);
  double top_p = 0, other_p = 0;
  for (int j = 0; j < 10; ++j) {
    top_p += *truth->ClickProbability("u1", (*top)[j]) / 10;
    other_p += *truth->ClickProbability("u1", absl::StrCat("i", 100 + 37 * j)) / 10;
  }
  EXPECT_GT(top_p, 2 * other_p);
  auto items = LoadItems(dir + "/items.csv");
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 500u);
  EXPECT_FALSE((*items)[0].categories.empty());
}

// The click model's documented calibration at the default sizes: a user's
// true top-10 items click with about 0.3, a random item with about 0.02.
TEST_F(Synthetic, ClickModelCalibration) {
  const std::string dir = TempDir("click");
  ASSERT_TRUE(GenerateSynthetic(SyntheticParams{}, dir).ok());
  auto truth = GroundTruth::Load(dir);
  ASSERT_TRUE(truth.ok()) << truth.status();
  double top_p = 0, random_p = 0;
  int top_n = 0, random_n = 0;
  for (int u = 0; u < 2000; u += 10) {
    const std::string user = absl::StrCat("u", u);
    auto top = truth->TrueTopK(user, 10);
    ASSERT_TRUE(top.ok());
    for (const auto& item : *top) top_p += *truth->ClickProbability(user, item), ++top_n;
    for (int j = 0; j < 10; ++j) {
      random_p += *truth->ClickProbability(user, absl::StrCat("i", (u * 13 + j * 101) % 1000));
      ++random_n;
    }
  }
  top_p /= top_n;
  random_p /= random_n;
  std::printf("click probability: true top-10 %.3f, random item %.3f\n", top_p, random_p);
  EXPECT_GT(top_p, 0.24);
  EXPECT_LT(top_p, 0.36);
  EXPECT_GT(random_p, 0.012);
  EXPECT_LT(random_p, 0.03);
}

TEST_F(Synthetic, RejectsBadParams) {
  EXPECT_FALSE(GenerateSynthetic({.users = 0}, TempDir("e")).ok());
  EXPECT_FALSE(GenerateSynthetic({.users = 10, .items = 5, .interactions = 5}, TempDir("e")).ok());
  EXPECT_FALSE(
      GenerateSynthetic({.users = 10, .items = 5, .interactions = 1000}, TempDir("e")).ok());
  SyntheticParams skew;
  skew.zipf_exponent = -1;
  EXPECT_EQ(GenerateSynthetic(skew, TempDir("e")).status().code(),
            absl::StatusCode::kInvalidArgument);
  SyntheticParams beta;
  beta.beta = -0.5;
  EXPECT_EQ(GenerateSynthetic(beta, TempDir("e")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recstack::data
