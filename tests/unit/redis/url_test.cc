#include <gtest/gtest.h>

#include "common/redis/client.h"
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

TEST(ParseUrl, UserIsIgnoredAndDbZeroIsDefault) {
  auto o = ParseUrl("redis://default:pw@127.0.0.1:6390/");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->password, "pw");
  EXPECT_EQ(o->port, 6390);
  EXPECT_EQ(o->db, 0);
  EXPECT_TRUE(o->unix_socket.empty());
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
  EXPECT_EQ(k.EventMarker("e1"), "rs:evt:e1");
  EXPECT_EQ(k.History("u1"), "rs:hist:u1");
  EXPECT_EQ(k.Popularity(491000), "rs:pop:491000");
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
  EXPECT_EQ(t.Popularity(-1), "t:pop:-1");
}

}  // namespace
}  // namespace recstack::redis
