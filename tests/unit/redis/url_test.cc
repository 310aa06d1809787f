#include <gtest/gtest.h>

#include "common/redis/client.h"
#include "common/redis/cluster.h"
#include "common/redis/keyspace.h"

namespace recstack::redis {
namespace {

TEST(ParseUrl, HostPortDb) {
  auto o = ParseUrl("redis://10.1.2.3:6380/2");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "10.1.2.3");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 2);
  EXPECT_TRUE(o->password.empty());
}

TEST(ParseUrl, DefaultsAndPassword) {
  auto o = ParseUrl("redis://:s3cret@localhost");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "localhost");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->password, "s3cret");
  EXPECT_EQ(ToUrl(*o), "redis://:***@localhost:6379");
}

TEST(ParseUrl, Ipv6AndUnix) {
  auto v6 = ParseUrl("redis://[::1]:7000");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  auto unix_url = ParseUrl("unix:///tmp/r.sock?db=3");
  ASSERT_TRUE(unix_url.ok()) << unix_url.status();
  EXPECT_EQ(unix_url->unix_socket, "/tmp/r.sock");
  EXPECT_EQ(unix_url->db, 3);
}

TEST(ParseUrl, AnAclUserAndDbZeroIsDefault) {
  auto o = ParseUrl("redis://retrieval:pw@127.0.0.1:6390/");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->username, "retrieval");
  EXPECT_EQ(o->password, "pw");
  EXPECT_EQ(o->port, 6390);
  EXPECT_EQ(o->db, 0);
  EXPECT_TRUE(o->unix_socket.empty());
  EXPECT_EQ(ToUrl(*o), "redis://retrieval:***@127.0.0.1:6390");
  auto c = ParseUrl("redis-cluster://ingestion:pw@127.0.0.1:7000,127.0.0.1:7001");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->username, "ingestion");
  EXPECT_EQ(c->password, "pw");
  EXPECT_EQ(ToUrl(*c), "redis-cluster://ingestion:***@127.0.0.1:7000,127.0.0.1:7001");
  EXPECT_TRUE(ParseUrl("redis://:pw@h:1")->username.empty());
}

TEST(ReplyError, AnAclRefusalIsPermissionDeniedAndSaysSo) {
  Reply r;
  r.type = Reply::Type::kError;
  r.str = "NOPERM this user has no permissions to run the 'xadd' command";
  absl::Status st = ReplyError(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("ACL"), std::string::npos);
  EXPECT_NE(st.message().find("'xadd'"), std::string::npos);
  r.str = "WRONGTYPE Operation against a key holding the wrong kind of value";
  EXPECT_EQ(ReplyError(r).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReplyError(r, absl::StatusCode::kUnavailable).code(), absl::StatusCode::kUnavailable);
}

TEST(ToUrl, RoundTripsAndRedacts) {
  for (const char* url : {"redis://127.0.0.1:6379", "redis://h:1/5", "unix:///tmp/x.sock",
                          "unix:///tmp/x.sock?db=2"}) {
    auto o = ParseUrl(url);
    ASSERT_TRUE(o.ok()) << url << ": " << o.status();
    EXPECT_EQ(ToUrl(*o), url);
  }
  Options o;
  o.password = "hunter2";
  o.db = 1;
  const std::string url = ToUrl(o);
  EXPECT_EQ(url, "redis://:***@127.0.0.1:6379/1");
  EXPECT_EQ(url.find("hunter2"), std::string::npos);
}

TEST(ParseUrl, RejectsBadInput) {
  for (const char* bad :
       {"http://x:1", "redis://", "redis://host:0", "redis://host:99999", "redis://host:12x",
        "redis://host/abc", "unix://relative.sock", "unix:///s.sock?foo=1", "unix://",
        "redis://:pw@", "redis://h:6379/-1", "redis://::1:6379", "redis://host:"}) {
    auto o = ParseUrl(bad);
    EXPECT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(std::string(o.status().message()).find("redis url"), std::string::npos);
  }
}

TEST(Keyspace, MatchesDesign) {
  Keyspace k;
  EXPECT_EQ(k.Events(), "rs:events");
  EXPECT_EQ(k.EventMarker(0, "e1"), "rs:evt:e1");
  EXPECT_EQ(k.History("u1"), "rs:hist:u1");
  EXPECT_EQ(k.Popularity(0, 491000), "rs:pop:491000");
  EXPECT_EQ(k.Item("i9"), "rs:item:i9");
  EXPECT_EQ(k.ModelCurrent(), "rs:model:current");
  EXPECT_EQ(k.ModelMeta("v3"), "rs:model:v3:meta");
  EXPECT_EQ(k.ModelItems("v3", 7), "rs:model:v3:items:7");
  EXPECT_EQ(k.ModelUser("v3", "u1"), "rs:model:v3:user:u1");
  EXPECT_EQ(k.ModelUpdates(), "rs:model:updates");
  EXPECT_EQ(k.ModelVersions(), "rs:model:versions");
  EXPECT_EQ(k.prefix(), "rs:");
  // Ids are copied byte for byte (binary-safe keys).
  EXPECT_EQ(k.History(std::string_view("a\0b", 3)), std::string("rs:hist:a\0b", 11));
  Keyspace t("t:");
  EXPECT_EQ(t.History("a"), "t:hist:a");
  EXPECT_EQ(t.ModelUser("v1", "u"), "t:model:v1:user:u");
  EXPECT_EQ(t.Popularity(0, -1), "t:pop:-1");
}

TEST(Keyspace, PartitionsShareATagPerPartitionAndSpreadOverSlots) {
  Keyspace k("rs:", 16);
  ASSERT_EQ(k.partitions(), 16);
  ASSERT_TRUE(k.tagged());
  std::vector<int> per_partition(16, 0);
  for (int u = 0; u < 16000; ++u) {
    const std::string user = "u" + std::to_string(u);
    const int p = k.PartitionOf(user);
    ASSERT_GE(p, 0);
    ASSERT_LT(p, 16);
    ++per_partition[p];
    // What one event write touches is in one slot.
    const int slot = KeySlot(k.History(user));
    ASSERT_EQ(KeySlot(k.Events(p)), slot);
    ASSERT_EQ(KeySlot(k.EventMarker(p, "e" + std::to_string(u))), slot);
    ASSERT_EQ(KeySlot(k.Popularity(p, 491000)), slot);
    ASSERT_EQ(KeySlot(k.Trend(p)), slot);
    ASSERT_EQ(KeySlot(k.TrendMeta(p)), slot);
    EXPECT_EQ(k.PartitionOf(user), p);  // stable
  }
  // Users spread evenly (binomial: 1000 +- 3 sigma of ~30).
  for (int n : per_partition) {
    EXPECT_GT(n, 880);
    EXPECT_LT(n, 1120);
  }
  // Partition p's slot is in the p-th sixteenth of the slots: with masters
  // owning equal ranges, partitions spread evenly over them.
  for (int p = 0; p < 16; ++p) {
    EXPECT_EQ(KeySlot(k.Events(p)) / 1024, p) << k.Events(p);
  }
  // Unpartitioned keys keep their names; items and models are untagged.
  EXPECT_EQ(k.Item("i1"), "rs:item:i1");
  EXPECT_EQ(k.ModelUser("v1", "u1"), "rs:model:v1:user:u1");
  // A cluster with one partition still tags (the Lua script needs one slot).
  Options cluster;
  cluster.cluster_seeds = {{"127.0.0.1", 7000}};
  Keyspace one = Keyspace::For(cluster, "rs:", 1);
  EXPECT_TRUE(one.tagged());
  EXPECT_EQ(KeySlot(one.Events()), KeySlot(one.History("anyone")));
  EXPECT_EQ(Keyspace::For(cluster, "rs:", 0).partitions(), Keyspace::kClusterPartitions);
  EXPECT_EQ(Keyspace::For(Options{}, "rs:", 0).partitions(), 1);
  EXPECT_EQ(Keyspace::For(Options{}, "rs:", 0).Events(), "rs:events");
}

}  // namespace
}  // namespace recstack::redis
