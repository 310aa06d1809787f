// The Redis client against a real redis-server on loopback.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

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
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  // The broken connection was dropped; a new one answers.
  EXPECT_TRUE(pool.Ping().ok());
}

TEST_F(RedisClientTest, PoolIsBounded) {
  auto pool = MakePool(2);
  auto a = pool->Acquire();
  auto b = pool->Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
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

TEST_F(RedisClientTest, ScriptLoadsOnNoscript) {
  auto conn = Connection::Connect(server().options());
  ASSERT_TRUE(conn.ok());
  Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto r = script.Run(**conn, {"counter"}, {"5"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer, 5);
  ASSERT_TRUE((*conn)->Command({"SCRIPT", "FLUSH"}).ok());
  r = script.Run(**conn, {"counter"}, {"2"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer, 7);
}

TEST(RedisRestart, ReconnectsAfterServerRestart) {
  RedisServer server;
  Pool pool(server.options(), 2);
  ASSERT_TRUE(pool.Command({"SET", "a", "1"}).ok());
  server.Stop();
  auto down = pool.Command({"GET", "a"});
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(server.Start().ok());
  // The pool backs off briefly after a failed connect; a retry loop bounded
  // in time gets through.
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
  EXPECT_NE(std::string(denied.status().message()).find("AUTH"), std::string::npos);
  Options none = good;
  none.password.clear();
  auto anon = Connection::Connect(none);
  ASSERT_TRUE(anon.ok());
  auto r = (*anon)->Command({"GET", "x"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("NOAUTH"), std::string::npos);
}

TEST(RedisUnixSocket, Works) {
  RedisServer server(RedisServerOptions{.unix_socket = true});
  auto url = ParseUrl(server.url());
  ASSERT_TRUE(url.ok()) << url.status();
  Pool pool(*url, 1);
  EXPECT_TRUE(pool.Ping().ok());
}

TEST(RedisSubscriber, ReceivesAndSurvivesRestart) {
  RedisServer server;
  std::mutex mu;
  std::vector<std::string> got;
  Subscriber sub(server.options(), {"chan"}, [&](std::string_view ch, std::string_view msg) {
    std::lock_guard<std::mutex> lock(mu);
    got.push_back(std::string(ch) + "=" + std::string(msg));
  });
  sub.Start();
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 200 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return pred();
  };
  ASSERT_TRUE(wait_for([&] { return sub.connected(); }));
  Pool pool(server.options(), 1);
  ASSERT_TRUE(pool.Command({"PUBLISH", "chan", "v1"}).ok());
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard<std::mutex> lock(mu);
    return got.size() == 1;
  }));
  server.Stop();
  ASSERT_TRUE(wait_for([&] { return !sub.connected(); }));
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(wait_for([&] { return sub.connected(); }));
  for (int i = 0; i < 50 && !pool.Command({"PUBLISH", "chan", "v2"}).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard<std::mutex> lock(mu);
    return got.size() == 2;
  }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(got[0], "chan=v1");
  EXPECT_EQ(got[1], "chan=v2");
  sub.Stop();
}

}  // namespace
}  // namespace recstack::redis
