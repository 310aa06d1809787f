// The Redis client against a real redis-server on loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "common/redis/client.h"
#include "common/redis/subscriber.h"
#include "tests/support/redis/redis_server.h"

namespace recstack::redis {
namespace {

using recstack::testing::RedisServer;
using recstack::testing::RedisServerOptions;
using recstack::testing::RedisTest;

class RedisClientTest : public RedisTest {};

TEST_F(RedisClientTest, BinarySafeValues) {
  auto conn = Connection::Connect(server().options());
  ASSERT_TRUE(conn.ok()) << conn.status();
  const std::string value("a\0b\r\n\xff", 6);
  ASSERT_TRUE((*conn)->Command({"SET", std::string("k\0ey", 4), value}).ok());
  auto got = (*conn)->Command({"GET", std::string("k\0ey", 4)});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->type, Reply::Type::kString);
  EXPECT_EQ(got->str, value);
  auto missing = (*conn)->Command({"GET", "nope"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_nil());
}

TEST_F(RedisClientTest, ErrorReplyIsAStatus) {
  auto pool = MakePool();
  ASSERT_TRUE(pool->Command({"SET", "s", "x"}).ok());
  auto r = pool->Command({"INCR", "s"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(r.status().message()).find("not an integer"), std::string::npos);
  // The connection is still usable after an error reply.
  EXPECT_TRUE(pool->Ping().ok());
}

TEST_F(RedisClientTest, PipelineOfAThousand) {
  auto pool = MakePool();
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < 1000; ++i) cmds.push_back({"RPUSH", "list", std::to_string(i)});
  cmds.push_back({"INCR", "list"});  // wrong type: an error value, not a failure
  cmds.push_back({"LLEN", "list"});
  auto replies = pool->Pipeline(cmds);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 1002u);
  EXPECT_EQ((*replies)[999].integer, 1000);
  EXPECT_TRUE((*replies)[1000].is_error());
  EXPECT_EQ((*replies)[1001].integer, 1000);
}

TEST_F(RedisClientTest, ArraysAndIntegers) {
  auto pool = MakePool();
  ASSERT_TRUE(pool->Pipeline({{"ZADD", "z", "1", "a"}, {"ZADD", "z", "2", "b"}}).ok());
  auto r = pool->Command({"ZRANGE", "z", "0", "-1", "WITHSCORES"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->type, Reply::Type::kArray);
  ASSERT_EQ(r->elements.size(), 4u);
  EXPECT_EQ(r->elements[0].str, "a");
  EXPECT_EQ(r->elements[3].str, "2");
}

TEST_F(RedisClientTest, CommandTimeoutIsUnavailableAndDropsTheConnection) {
  Options o = server().options();
  o.command_timeout = std::chrono::milliseconds(100);
  Pool pool(o, 1);
  // BLPOP blocks for 0.5 s on an empty list: longer than the 100 ms timeout.
  auto r = pool.Command({"BLPOP", "empty-list", "0.5"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(r.status().message()).find("timed out"), std::string::npos);
  // The broken connection was dropped; a new one answers.
  EXPECT_TRUE(pool.Ping().ok());
}

TEST_F(RedisClientTest, ConnectionIsBrokenAfterATimeout) {
  Options o = server().options();
  o.command_timeout = std::chrono::milliseconds(100);
  auto conn = Connection::Connect(o);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_FALSE((*conn)->broken());
  auto r = (*conn)->Command({"BLPOP", "empty-list", "0.5"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE((*conn)->broken());
  // Its reply stream is out of step: it refuses further commands.
  auto again = (*conn)->Command({"PING"});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
  auto piped = (*conn)->Pipeline({{"PING"}});
  EXPECT_EQ(piped.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RedisClientTest, PoolDropsABrokenLeaseAndReusesAHealthyOne) {
  Options o = server().options();
  o.command_timeout = std::chrono::milliseconds(100);
  Pool pool(o, 1);
  long long first_id = 0;
  {
    auto lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    auto id = (*lease)->Command({"CLIENT", "ID"});
    ASSERT_TRUE(id.ok()) << id.status();
    first_id = id->integer;
  }
  long long second_id = 0;
  {
    auto lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    auto id = (*lease)->Command({"CLIENT", "ID"});
    ASSERT_TRUE(id.ok()) << id.status();
    second_id = id->integer;
    EXPECT_FALSE((*lease)->Command({"BLPOP", "empty-list", "0.5"}).ok());
    EXPECT_TRUE((*lease)->broken());
  }
  EXPECT_EQ(second_id, first_id);  // a healthy connection is reused
  auto lease = pool.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto id = (*lease)->Command({"CLIENT", "ID"});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_NE(id->integer, first_id);  // the broken one was dropped
}

TEST_F(RedisClientTest, LeaseIsMoveOnly) {
  static_assert(!std::is_copy_constructible_v<Lease>);
  static_assert(!std::is_copy_assignable_v<Lease>);
  static_assert(std::is_nothrow_move_constructible_v<Lease>);
  auto pool = MakePool(1);
  auto a = pool->Acquire();
  ASSERT_TRUE(a.ok()) << a.status();
  Lease moved = std::move(*a);
  EXPECT_TRUE(moved->Command({"PING"}).ok());
  // Moving into a lease that holds a connection returns the old one.
  auto pool2 = MakePool(1);
  auto b = pool2->Acquire();
  ASSERT_TRUE(b.ok());
  *b = std::move(moved);
  EXPECT_TRUE((*b)->Command({"PING"}).ok());
  auto c = pool2->Acquire(std::chrono::milliseconds(10));
  EXPECT_TRUE(c.ok()) << c.status();  // pool2's slot came back on the move
  auto d = pool->Acquire(std::chrono::milliseconds(10));
  EXPECT_FALSE(d.ok());  // pool's one connection is still held by *b
}

TEST_F(RedisClientTest, SelectsTheDatabase) {
  Options o = server().options();
  o.db = 3;
  Pool db3(o, 1);
  ASSERT_TRUE(db3.Command({"SET", "k", "in3"}).ok());
  auto in0 = MakePool(1)->Command({"GET", "k"});
  ASSERT_TRUE(in0.ok()) << in0.status();
  EXPECT_TRUE(in0->is_nil());
  auto in3 = db3.Command({"GET", "k"});
  ASSERT_TRUE(in3.ok()) << in3.status();
  EXPECT_EQ(in3->str, "in3");
}

TEST_F(RedisClientTest, CommandReplyKeepsErrorsAsValues) {
  auto conn = Connection::Connect(server().options());
  ASSERT_TRUE(conn.ok()) << conn.status();
  std::vector<std::string_view> argv = {"NOSUCHCOMMAND", "x"};
  auto r = (*conn)->CommandReply(argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->is_error());
  EXPECT_NE(r->str.find("unknown command"), std::string::npos);
  EXPECT_FALSE((*conn)->broken());
}

TEST_F(RedisClientTest, PoolIsBounded) {
  auto pool = MakePool(2);
  auto a = pool->Acquire();
  auto b = pool->Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  // Two distinct server connections.
  auto id_a = (*a)->Command({"CLIENT", "ID"});
  auto id_b = (*b)->Command({"CLIENT", "ID"});
  ASSERT_TRUE(id_a.ok() && id_b.ok());
  EXPECT_NE(id_a->integer, id_b->integer);
  auto c = pool->Acquire(std::chrono::milliseconds(50));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  std::thread releaser([lease = std::move(*a)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Lease dropped = std::move(lease);
  });
  auto d = pool->Acquire(std::chrono::milliseconds(2000));
  releaser.join();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE((*d)->Command({"PING"}).ok());
}

// How often the server ran `name` (from INFO commandstats), e.g. "script|load".
long long CommandCalls(Connection& conn, const std::string& name) {
  auto info = conn.Command({"INFO", "commandstats"});
  if (!info.ok()) return -1;
  const std::string tag = "cmdstat_" + name + ":calls=";
  size_t at = info->str.find(tag);
  if (at == std::string::npos) return 0;
  return std::stoll(info->str.substr(at + tag.size()));
}

TEST_F(RedisClientTest, ScriptLoadsOnNoscript) {
  auto conn = Connection::Connect(server().options());
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Command({"CONFIG", "RESETSTAT"}).ok());
  Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto r = script.Run(**conn, {"counter"}, {"5"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer, 5);
  EXPECT_EQ(CommandCalls(**conn, "script|load"), 1);
  // The SHA-1 is remembered: the second run is one EVALSHA.
  r = script.Run(**conn, {"counter"}, {"1"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer, 6);
  EXPECT_EQ(CommandCalls(**conn, "script|load"), 1);
  // After SCRIPT FLUSH (as after a restart) EVALSHA says NOSCRIPT; Run loads again.
  ASSERT_TRUE((*conn)->Command({"SCRIPT", "FLUSH"}).ok());
  r = script.Run(**conn, {"counter"}, {"2"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer, 8);
  EXPECT_EQ(CommandCalls(**conn, "script|load"), 2);
  EXPECT_EQ(CommandCalls(**conn, "evalsha"), 4);  // 1 + 1 + (NOSCRIPT + retry)
  // A copy shares nothing but works the same.
  Script copy = script;
  r = copy.Run(**conn, {"counter"}, {"2"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer, 10);
}

TEST_F(RedisClientTest, ScriptErrorsAreStatuses) {
  auto conn = Connection::Connect(server().options());
  ASSERT_TRUE(conn.ok());
  Script script("return redis.call('INCR', KEYS[1])");
  ASSERT_TRUE((*conn)->Command({"SET", "text", "abc"}).ok());
  for (int i = 0; i < 2; ++i) {  // first via SCRIPT LOAD, then via the cached SHA-1
    auto r = script.Run(**conn, {"text"}, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(std::string(r.status().message()).find("not an integer"), std::string::npos);
  }
  Script broken("this is not lua");
  auto r = broken.Run(**conn, {}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE((*conn)->broken());
}

TEST(RedisRestart, ReconnectsAfterServerRestart) {
  RedisServer server;
  Pool pool(server.options(), 1);
  ASSERT_TRUE(pool.Command({"SET", "a", "1"}).ok());
  ASSERT_TRUE(server.Restart().ok());
  // The pooled connection died with the old server: the first call fails
  // and drops it; the next one connects afresh.
  auto first = pool.Command({"GET", "a"});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  auto second = pool.Command({"GET", "a"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->is_nil());  // no persistence: the restarted server is empty
}

TEST(RedisRestart, DownServerFailsFastAndRecovers) {
  RedisServer server;
  Pool pool(server.options(), 2);
  ASSERT_TRUE(pool.Ping().ok());
  server.Stop();
  // Connection refused on loopback: UNAVAILABLE, for commands and pipelines.
  for (int i = 0; i < 3; ++i) {
    auto down = pool.Pipeline({{"SET", "a", "1"}, {"GET", "a"}});
    ASSERT_FALSE(down.ok());
    EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  }
  auto acquire = pool.Acquire();
  ASSERT_FALSE(acquire.ok());
  EXPECT_EQ(acquire.status().code(), absl::StatusCode::kUnavailable) << acquire.status();
  ASSERT_TRUE(server.Start().ok());
  // The pool waits kConnectBackoff after a failed connect; a retry loop
  // bounded in count gets through.
  absl::Status last;
  for (int i = 0; i < 50; ++i) {
    last = pool.Ping();
    if (last.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(last.ok()) << last;
}

TEST(RedisAuth, PasswordRequired) {
  RedisServer server(RedisServerOptions{.password = "pa55"});
  Options good = server.options();
  auto ok = Connection::Connect(good);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE((*ok)->Command({"PING"}).ok());
  Options bad = good;
  bad.password = "wrong";
  auto denied = Connection::Connect(bad);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(denied.status().message()).find("AUTH failed"), std::string::npos);
  EXPECT_NE(std::string(denied.status().message()).find("WRONGPASS"), std::string::npos);
  // The password never appears in a message.
  EXPECT_EQ(std::string(denied.status().message()).find("wrong"), std::string::npos);
  Pool bad_pool(bad, 1);
  absl::Status ping = bad_pool.Ping();
  EXPECT_EQ(ping.code(), absl::StatusCode::kFailedPrecondition) << ping;
  // The password parsed from a URL works too.
  auto from_url = ParseUrl("redis://:pa55@127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(from_url.ok()) << from_url.status();
  EXPECT_TRUE(Pool(*from_url, 1).Ping().ok());
  Options none = good;
  none.password.clear();
  auto anon = Connection::Connect(none);
  ASSERT_TRUE(anon.ok());
  auto r = (*anon)->Command({"GET", "x"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("NOAUTH"), std::string::npos);
}

TEST(RedisUnixSocket, Works) {
  RedisServerOptions opts;
  opts.unix_socket = true;
  RedisServer server(opts);
  auto url = ParseUrl(server.url());
  ASSERT_TRUE(url.ok()) << url.status();
  Pool pool(*url, 1);
  EXPECT_TRUE(pool.Ping().ok());
}

TEST(RedisSubscriber, ReceivesAndSurvivesRestart) {
  RedisServer server;
  std::mutex mu;
  std::vector<std::string> got;
  Subscriber sub(server.options(), {"other", "chan"},
                 [&](std::string_view ch, std::string_view msg) {
                   std::lock_guard<std::mutex> lock(mu);
                   got.push_back(std::string(ch) + "=" + std::string(msg));
                 });
  sub.Start();
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 200 && !pred(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return pred();
  };
  ASSERT_TRUE(wait_for([&] { return sub.connected(); }));
  Pool pool(server.options(), 1);
  ASSERT_TRUE(pool.Command({"PUBLISH", "chan", "v1"}).ok());
  ASSERT_TRUE(pool.Command({"PUBLISH", "unsubscribed", "x"}).ok());
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard<std::mutex> lock(mu);
    return got.size() == 1;
  }));
  server.Stop();
  ASSERT_TRUE(wait_for([&] { return !sub.connected(); }));
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(wait_for([&] { return sub.connected(); }));
  // The pool's connection died with the old server; retry (bounded).
  const std::string binary("v2\0\r\n", 5);
  for (int i = 0; i < 50 && !pool.Command({"PUBLISH", "other", binary}).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard<std::mutex> lock(mu);
    return got.size() == 2;
  }));
  sub.Stop();
  EXPECT_FALSE(sub.connected());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(got[0], "chan=v1");
  EXPECT_EQ(got[1], "other=" + binary);
}

}  // namespace
}  // namespace recstack::redis
