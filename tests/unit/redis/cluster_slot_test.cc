// Socket-free parts of the cluster client: the key hash, key extraction and
// cluster URLs. The slot values are the cluster specification's own examples
// and `CLUSTER KEYSLOT` answers of a real Redis 7.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/redis/client.h"
#include "common/redis/cluster.h"

namespace recstack::redis {
namespace {

std::vector<std::string_view> Keys(std::initializer_list<std::string_view> argv) {
  return CommandKeys(std::span<const std::string_view>(argv.begin(), argv.size()));
}

TEST(KeySlot, MatchesRedis) {
  // CRC16-XMODEM("123456789") is 0x31C3 (the specification's check value).
  EXPECT_EQ(KeySlot("123456789"), 0x31C3);
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot(""), 0);
}

TEST(KeySlot, HashTags) {
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_EQ(KeySlot("{user1000}.followers"), KeySlot("user1000"));
  // Only the first {...}; an empty tag hashes the whole key.
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));
  EXPECT_EQ(KeySlot("foo{}{bar}"), KeySlot("foo{}{bar}"));
  EXPECT_NE(KeySlot("foo{}{bar}"), KeySlot("bar"));
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("foo{bar"), KeySlot("foo{bar"));
}

TEST(CommandKeys, KeyPositions) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(Keys({"GET", "a"}), V({"a"}));
  EXPECT_EQ(Keys({"hset", "h", "f", "v"}), V({"h"}));
  EXPECT_EQ(Keys({"EVALSHA", "sha", "2", "k1", "k2", "arg"}), V({"k1", "k2"}));
  EXPECT_EQ(Keys({"EVALSHA", "sha", "0", "arg"}), V{});
  EXPECT_EQ(Keys({"ZUNION", "2", "a", "b", "WITHSCORES"}), V({"a", "b"}));
  EXPECT_EQ(Keys({"ZUNIONSTORE", "d", "2", "a", "b"}), V({"d", "a", "b"}));
  EXPECT_EQ(Keys({"DEL", "a", "b", "c"}), V({"a", "b", "c"}));
  EXPECT_EQ(Keys({"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "s1", "s2", ">", ">"}),
            V({"s1", "s2"}));
  EXPECT_EQ(Keys({"XGROUP", "CREATE", "s", "g", "0"}), V({"s"}));
  EXPECT_EQ(Keys({"PING"}), V{});
  EXPECT_EQ(Keys({"SCRIPT", "LOAD", "return 1"}), V{});
  EXPECT_EQ(Keys({"PUBLISH", "chan", "msg"}), V{});
  EXPECT_EQ(Keys({"SCAN", "0", "MATCH", "x*"}), V{});
}

TEST(ParseUrl, Cluster) {
  auto o = ParseUrl("redis-cluster://:pw@127.0.0.1:7000,localhost:7001,[::1]:7002");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_TRUE(o->cluster());
  ASSERT_EQ(o->cluster_seeds.size(), 3u);
  EXPECT_EQ(o->cluster_seeds[0], std::make_pair(std::string("127.0.0.1"), 7000));
  EXPECT_EQ(o->cluster_seeds[1], std::make_pair(std::string("localhost"), 7001));
  EXPECT_EQ(o->cluster_seeds[2], std::make_pair(std::string("::1"), 7002));
  EXPECT_EQ(o->password, "pw");
  EXPECT_EQ(ToUrl(*o), "redis-cluster://:***@127.0.0.1:7000,localhost:7001,::1:7002");
  auto one = ParseUrl("redis-cluster://10.0.0.1:6379");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->cluster_seeds.size(), 1u);
  EXPECT_FALSE(ParseUrl("redis://127.0.0.1:6379")->cluster());
}

TEST(ParseUrl, ClusterBadInput) {
  for (const char* bad :
       {"redis-cluster://", "redis-cluster://host", "redis-cluster://h:0", "redis-cluster://h:1,",
        "redis-cluster://h:1/2", "redis-cluster://h:1,h2:99999"}) {
    auto o = ParseUrl(bad);
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(o.status().message().find(bad), std::string::npos) << o.status();
  }
}

}  // namespace
}  // namespace recstack::redis
