// SumPopularity against a real redis-server: the sum over the hour window,
// best first, ties broken by item id.
#include "common/redis/popularity.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/redis/keyspace.h"
#include "tests/support/redis/redis_server.h"

namespace recstack::redis {
namespace {

class PopularityTest : public recstack::testing::RedisTest {};

TEST_F(PopularityTest, SumsTheWindowBestFirst) {
  auto pool = MakePool(1);
  Keyspace keys("t:");
  const int64_t hour = 480'000;
  const int64_t now_ms = hour * Keyspace::kMsPerHour + 1234;
  ASSERT_TRUE(
      pool->Pipeline({{"ZADD", keys.Popularity(0, hour), "3", "a", "1", "b"},
                      {"ZADD", keys.Popularity(0, hour - 1), "2", "b", "5", "c"},
                      {"ZADD", keys.Popularity(0, hour - 2), "100", "d"},   // outside a 2 h window
                      {"ZADD", keys.Popularity(0, hour + 1), "100", "e"}})  // the future
          .ok());
  auto top = SumPopularity(*pool, keys, now_ms, 2);
  ASSERT_TRUE(top.ok()) << top.status();
  const std::vector<std::pair<std::string, double>> want = {{"c", 5}, {"a", 3}, {"b", 3}};
  EXPECT_EQ(*top, want);
  auto wide = SumPopularity(*pool, keys, now_ms, 3);
  ASSERT_TRUE(wide.ok()) << wide.status();
  ASSERT_FALSE(wide->empty());
  EXPECT_EQ(wide->front(), (std::pair<std::string, double>("d", 100)));
  // No data at all: empty, not an error.
  auto none = SumPopularity(*pool, Keyspace("empty:"), now_ms, 24);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace recstack::redis
