#include "loadtest/workload.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

namespace recstack::loadtest {
namespace {

TEST(ZipfSampler, FrequenciesFollowOneOverRankToTheS) {
  ZipfSampler z(100, 1.0);
  math::Rng rng(1);
  std::vector<int> counts(100);
  const int n = 200000;
  for (int i = 0; i < n; ++i) ++counts[z.Sample(rng)];
  double h = 0;
  for (int i = 1; i <= 100; ++i) h += 1.0 / i;
  for (int rank : {0, 1, 9, 99}) {
    const double expected = n / (rank + 1.0) / h;
    EXPECT_NEAR(counts[rank], expected, 5 * std::sqrt(expected) + 1) << rank;
  }
}

TEST(ZipfSampler, ZeroSkewIsUniform) {
  ZipfSampler z(10, 0.0);
  math::Rng rng(2);
  std::vector<int> counts(10);
  for (int i = 0; i < 100000; ++i) ++counts[z.Sample(rng)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}

TEST(Mix, ParsesAndNormalises) {
  auto m = Mix::Parse("recommend=90, ingest=5,similar=5");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(m->share[0], 0.9);
  EXPECT_DOUBLE_EQ(m->share[1], 0.05);
  math::Rng rng(3);
  int ingest = 0;
  for (int i = 0; i < 100000; ++i) ingest += m->Sample(rng) == Op::kIngest;
  EXPECT_NEAR(ingest, 5000, 400);
  EXPECT_EQ(m->ToString(), "recommend=90,ingest=5,similar=5");
}

TEST(Mix, RejectsBadInputWithAReason) {
  for (const char* bad : {"", "recommend", "recommend=x", "recommend=-1", "buy=5", "recommend=0"}) {
    auto m = Mix::Parse(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find("--mix"), absl::string_view::npos);
  }
}

TEST(Arrivals, ConstantGapsAddUpExactly) {
  Arrivals a(3000, false, 1);  // 333,333.3 ns
  int64_t total = 0;
  for (int i = 0; i < 3000; ++i) total += a.NextGapNs();
  EXPECT_NEAR(total, 1'000'000'000, 1);
}

TEST(Arrivals, PoissonGapsAreExponential) {
  Arrivals a(1000, true, 7);
  const int n = 100000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    const double g = static_cast<double>(a.NextGapNs());
    sum += g;
    sum2 += g * g;
  }
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  EXPECT_NEAR(mean, 1e6, 1e4);  // 1 ms
  EXPECT_NEAR(sd, 1e6, 2e4);    // exponential: sd == mean
}

TEST(Catalog, FromDatasetOrdersByActivity) {
  const auto dir = std::filesystem::temp_directory_path() / "recstack_loadtest_catalog";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "interactions.csv");
    f << "user,item,value,timestamp\nu2,i1,1,5\nu1,i1,1,5\nu2,i3,1,5\nu2,i1,2,6\n";
  }
  auto c = Catalog::FromDataset(dir.string());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->users, (std::vector<std::string>{"u2", "u1"}));
  EXPECT_EQ(c->items, (std::vector<std::string>{"i1", "i3"}));
  {
    std::ofstream f(dir / "u.data");  // MovieLens: tab-separated, no header
    f << "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t1\t878887116\n";
  }
  auto ml = Catalog::FromDataset((dir / "u.data").string());
  ASSERT_TRUE(ml.ok()) << ml.status();
  EXPECT_EQ(ml->users, (std::vector<std::string>{"196", "186"}));
  EXPECT_EQ(ml->items, (std::vector<std::string>{"302", "242"}));
  {
    std::ofstream f(dir / "interactions.csv");
    f << "user,item\nonly-one-field\n";
  }
  auto bad = Catalog::FromDataset(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":2:"), absl::string_view::npos) << bad.status();
  EXPECT_FALSE(Catalog::FromDataset((dir / "missing").string()).ok());
  std::filesystem::remove_all(dir);
}

TEST(Catalog, SyntheticIdsMatchDatagen) {
  Catalog c = Catalog::Synthetic(3, 2);
  EXPECT_EQ(c.users, (std::vector<std::string>{"u0", "u1", "u2"}));
  EXPECT_EQ(c.items, (std::vector<std::string>{"i0", "i1"}));
}

}  // namespace
}  // namespace recstack::loadtest
