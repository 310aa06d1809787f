// The cluster client against a real 3-master, 3-replica Redis Cluster on
// loopback (tests/support/redis): routing, per-node pipelines, MOVED and ASK
// during a real slot migration, a master killed and its replica promoted,
// CLUSTERDOWN, CROSSSLOT and unreachable seeds.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/redis/client.h"
#include "common/redis/cluster.h"
#include "common/redis/subscriber.h"
#include "tests/support/redis/redis_server.h"

namespace recstack::redis {
namespace {

using namespace std::chrono_literals;
using testing::RedisClusterTest;

// A direct connection to node i (no routing).
std::unique_ptr<Connection> Direct(testing::RedisServer& node) {
  auto conn = Connection::Connect(node.options());
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? *std::move(conn) : nullptr;
}

long long DbSize(testing::RedisServer& node) {
  auto conn = Direct(node);
  auto r = conn->Command({"DBSIZE"});
  return r.ok() ? r->integer : -1;
}

// A key of `slot`'s hash tag, found by trying tags.
std::string KeyInSlot(int slot, const std::string& suffix) {
  for (int i = 0;; ++i) {
    std::string tag = "t" + std::to_string(i);
    if (KeySlot(tag) == slot) return "{" + tag + "}" + suffix;
  }
}

class Cluster : public RedisClusterTest {};

TEST_F(Cluster, CommandsGoToTheOwnerOfTheirSlot) {
  auto pool = MakePool();
  for (int i = 0; i < 300; ++i) {
    const std::string k = "key:" + std::to_string(i);
    ASSERT_TRUE(pool->Command({"SET", k, std::to_string(i)}).ok()) << k;
  }
  for (int i = 0; i < 300; ++i) {
    auto r = pool->Command({"GET", "key:" + std::to_string(i)});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->str, std::to_string(i));
  }
  // Each key sits on the master of its slot, and every master got some.
  auto masters = cluster().Masters();
  ASSERT_TRUE(masters.ok()) << masters.status();
  ASSERT_EQ(masters->size(), 3u);
  long long total = 0;
  for (int m : *masters) {
    const long long n = DbSize(cluster().node(m));
    EXPECT_GT(n, 50) << "master " << m;
    total += n;
  }
  EXPECT_EQ(total, 300);
  auto owner = cluster().MasterOf(KeySlot("key:7"));
  ASSERT_TRUE(owner.ok());
  auto direct = Direct(cluster().node(*owner));
  EXPECT_EQ(direct->Command({"GET", "key:7"})->str, "7");
}

TEST_F(Cluster, PipelineSpansNodesAndKeepsOrder) {
  auto pool = MakePool();
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < 500; ++i)
    cmds.push_back({"SET", "p:" + std::to_string(i), std::to_string(i)});
  for (int i = 0; i < 500; ++i) cmds.push_back({"INCR", "p:" + std::to_string(i)});
  auto replies = pool->Pipeline(cmds);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 1000u);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ((*replies)[i].str, "OK");
    EXPECT_EQ((*replies)[500 + i].integer, i + 1) << i;
  }
}

TEST_F(Cluster, CrossSlotIsAClearErrorAndSendsNothing) {
  auto pool = MakePool();
  ASSERT_NE(KeySlot("a"), KeySlot("b"));
  ASSERT_TRUE(pool->Command({"SET", "a", "1"}).ok());
  auto r = pool->Command({"DEL", "a", "b"});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("CROSSSLOT"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("'a' (slot 15495)"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("'b' (slot 3300)"), std::string::npos) << r.status();
  EXPECT_EQ(pool->Command({"GET", "a"})->str, "1");  // not deleted
  // In a pipeline it is that slot's error; the rest run.
  auto replies = pool->Pipeline({{"MGET", "a", "b"}, {"GET", "a"}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  EXPECT_TRUE((*replies)[0].is_error());
  EXPECT_EQ((*replies)[1].str, "1");
  // One hash tag: one slot, the command runs.
  ASSERT_TRUE(pool->Command({"SET", "{u1}x", "1"}).ok());
  ASSERT_TRUE(pool->Command({"SET", "{u1}y", "2"}).ok());
  EXPECT_EQ(pool->Command({"DEL", "{u1}x", "{u1}y"})->integer, 2);
}

TEST_F(Cluster, ScriptsLoadOnEveryMasterAndRunWhereTheirKeysAre) {
  auto pool = MakePool();
  Script script("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])");
  auto lease = pool->Acquire();
  ASSERT_TRUE(lease.ok());
  std::vector<std::vector<std::string>> cmds;
  auto sha = script.Load(**lease);
  ASSERT_TRUE(sha.ok()) << sha.status();
  for (int i = 0; i < 60; ++i) {
    const std::string tag = "{s" + std::to_string(i) + "}";
    cmds.push_back(script.EvalShaCommand(*sha, {tag + "a", tag + "b"}, {"v"}));
  }
  auto replies = (*lease)->Pipeline(cmds);
  ASSERT_TRUE(replies.ok()) << replies.status();
  for (const auto& r : *replies) EXPECT_EQ(r.integer, 1) << r.str;
  auto run = script.Run(**lease, {"{z}a", "{z}b"}, {"w"});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->integer, 1);
}

TEST_F(Cluster, ScanCoversEveryMaster) {
  auto pool = MakePool();
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < 200; ++i) cmds.push_back({"SET", "scan:" + std::to_string(i), "1"});
  cmds.push_back({"SET", "other", "1"});
  ASSERT_TRUE(pool->Pipeline(cmds).ok());
  std::set<std::string> seen;
  ASSERT_TRUE(pool->Scan("scan:*", 50,
                         [&](std::vector<std::string>& keys) {
                           seen.insert(keys.begin(), keys.end());
                           return absl::OkStatus();
                         })
                  .ok());
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(seen.count("other"), 0u);
}

TEST_F(Cluster, FollowsMovedAndAskDuringASlotMigration) {
  auto pool = MakePool();
  const int slot = KeySlot("mig");
  const std::string moved_key = KeyInSlot(slot, "moved"), stays = KeyInSlot(slot, "stays");
  ASSERT_TRUE(pool->Command({"SET", moved_key, "m"}).ok());
  ASSERT_TRUE(pool->Command({"SET", stays, "s"}).ok());
  auto source = cluster().MasterOf(slot);
  auto masters = cluster().Masters();
  ASSERT_TRUE(source.ok() && masters.ok());
  const int target = (*masters)[0] == *source ? (*masters)[1] : (*masters)[0];
  auto src = Direct(cluster().node(*source));
  auto dst = Direct(cluster().node(target));
  const std::string src_id = src->Command({"CLUSTER", "MYID"})->str;
  const std::string dst_id = dst->Command({"CLUSTER", "MYID"})->str;
  const std::string s = std::to_string(slot);
  ASSERT_TRUE(dst->Command({"CLUSTER", "SETSLOT", s, "IMPORTING", src_id}).ok());
  ASSERT_TRUE(src->Command({"CLUSTER", "SETSLOT", s, "MIGRATING", dst_id}).ok());
  // One key moves; the other is still on the source: reads of the moved one
  // get ASK, which the client follows without changing its map.
  ASSERT_TRUE(src->Command({"MIGRATE", "127.0.0.1", std::to_string(cluster().node(target).port()),
                            moved_key, "0", "5000"})
                  .ok());
  auto r = pool->Command({"GET", moved_key});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "m");
  EXPECT_EQ(pool->Command({"GET", stays})->str, "s");
  // Finish the migration: now the source answers MOVED, and the client
  // follows and learns the new owner.
  ASSERT_TRUE(src->Command({"MIGRATE", "127.0.0.1", std::to_string(cluster().node(target).port()),
                            stays, "0", "5000"})
                  .ok());
  for (auto* c : {dst.get(), src.get()})
    ASSERT_TRUE(c->Command({"CLUSTER", "SETSLOT", s, "NODE", dst_id}).ok());
  EXPECT_EQ(pool->Command({"GET", stays})->str, "s");
  ASSERT_TRUE(pool->Command({"SET", stays, "s2"}).ok());
  EXPECT_EQ(dst->Command({"GET", stays})->str, "s2");
  // Give the slot back so later tests see the original layout.
  ASSERT_TRUE(src->Command({"CLUSTER", "SETSLOT", s, "IMPORTING", dst_id}).ok());
  ASSERT_TRUE(dst->Command({"CLUSTER", "SETSLOT", s, "MIGRATING", src_id}).ok());
  ASSERT_TRUE(dst->Command({"MIGRATE", "127.0.0.1", std::to_string(cluster().node(*source).port()),
                            "", "0", "5000", "KEYS", moved_key, stays})
                  .ok());
  for (auto* c : {src.get(), dst.get()})
    ASSERT_TRUE(c->Command({"CLUSTER", "SETSLOT", s, "NODE", src_id}).ok());
}

TEST_F(Cluster, KilledMasterIsReplacedAndClientsFollow) {
  auto pool = MakePool();
  const std::string key = "failover";
  ASSERT_TRUE(pool->Command({"SET", key, "before"}).ok());
  // The replica has the write before the crash (WAIT on the master: one
  // replica acknowledged everything it was sent).
  auto owner = cluster().MasterOf(KeySlot(key));
  ASSERT_TRUE(owner.ok());
  auto direct = Direct(cluster().node(*owner));
  ASSERT_EQ(direct->Command({"WAIT", "1", "2000"})->integer, 1);
  direct.reset();
  cluster().node(*owner).Kill();
  const auto killed = std::chrono::steady_clock::now();
  // Keep writing; every attempt either succeeds or fails UNAVAILABLE, and
  // writes succeed again once the replica is promoted.
  int ok = 0, unavailable = 0;
  std::chrono::milliseconds recovered{-1};
  for (int i = 0; i < 400 && recovered.count() < 0; ++i) {
    auto r = pool->Command({"SET", key, "after"});
    if (r.ok()) {
      ++ok;
      recovered = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - killed);
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
      ++unavailable;
    }
  }
  ASSERT_GE(recovered.count(), 0) << "no write succeeded after the kill";
  std::printf("failover: writes back after %lld ms (%d UNAVAILABLE before)\n",
              static_cast<long long>(recovered.count()), unavailable);
  auto r = pool->Command({"GET", key});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "after");
  auto now_owner = cluster().MasterOf(KeySlot(key));
  ASSERT_TRUE(now_owner.ok());
  EXPECT_NE(*now_owner, *owner);
  // Restart the old master: it rejoins as a replica.
  ASSERT_TRUE(cluster().node(*owner).Start().ok());
  ASSERT_TRUE(cluster().WaitHealthy(30s).ok());
}

TEST_F(Cluster, PubSubReachesASubscriberOnAnyNode) {
  std::atomic<int> got{0};
  Subscriber sub(cluster().options(), {"news"}, [&](std::string_view, std::string_view payload) {
    if (payload == "hello") ++got;
  });
  sub.Start();
  for (int i = 0; i < 200 && !sub.connected(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(sub.connected());
  // Published on a different node than the first seed.
  auto conn = Direct(cluster().node(cluster().size() - 1));
  for (int i = 0; i < 200 && got == 0; ++i) {
    ASSERT_TRUE(conn->Command({"PUBLISH", "news", "hello"}).ok());
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GE(got.load(), 1);
}

TEST(ClusterUrl, NoReachableNodeNamesEverySeed) {
  const int a = testing::FreePort(), b = testing::FreePort();
  auto o = ParseUrl("redis-cluster://127.0.0.1:" + std::to_string(a) +
                    ",127.0.0.1:" + std::to_string(b));
  ASSERT_TRUE(o.ok());
  auto conn = Connection::Connect(*o);
  ASSERT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(conn.status().message().find("127.0.0.1:" + std::to_string(a)), std::string::npos)
      << conn.status();
  EXPECT_NE(conn.status().message().find("127.0.0.1:" + std::to_string(b)), std::string::npos)
      << conn.status();
}

TEST(ClusterUrl, ASingleRedisIsNotACluster) {
  testing::RedisServer plain;
  redis::Options o = plain.options();
  o.cluster_seeds = {{"127.0.0.1", plain.port()}};
  auto conn = Connection::Connect(o);
  ASSERT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(conn.status().message().find("cluster support disabled"), std::string::npos)
      << conn.status();
}

// Its own cluster: both nodes of one shard stopped leaves slots uncovered.
TEST(ClusterDown, CommandsAreUnavailableWithTheReason) {
  testing::RedisCluster cluster(testing::RedisClusterOptions{.masters = 3, .replicas = 0});
  ASSERT_TRUE(cluster.status().ok()) << cluster.status();
  redis::Options o = cluster.options();
  o.command_timeout = 1500ms;
  Pool pool(o, 2);
  ASSERT_TRUE(pool.Command({"SET", "k", "1"}).ok());
  auto owner = cluster.MasterOf(KeySlot("k"));
  ASSERT_TRUE(owner.ok());
  cluster.node(*owner).Kill();
  // Once the others mark it failed (node timeout), every command gets
  // CLUSTERDOWN; the client retries within its budget, then says why.
  const int other = (*owner + 1) % 3;
  auto direct = Direct(cluster.node(other));
  for (int i = 0; i < 100; ++i) {
    auto info = direct->Command({"CLUSTER", "INFO"});
    if (info.ok() && info->str.find("cluster_state:fail") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  // A key served by a live master: refused with CLUSTERDOWN, nothing written.
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    std::string k = "live" + std::to_string(i);
    if (cluster.MasterOf(KeySlot(k)).value_or(-1) == other) key = k;
  }
  auto r = pool.Command({"SET", key, "x"});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(r.status().message().find("CLUSTERDOWN"), std::string::npos) << r.status();
  // Back up: the refused write is not there, and commands work again.
  ASSERT_TRUE(cluster.node(*owner).Start().ok());
  ASSERT_TRUE(cluster.WaitHealthy(30s).ok());
  auto after = pool.Command({"GET", key});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->is_nil());
}

}  // namespace
}  // namespace recstack::redis
