// Least privilege in Redis: a real redis-server with the ACL file that
// deploy/redis/acl.sh writes (as stack.sh --redis-acl starts it), and each
// service's real code under its own user. Ingestion writes events but no
// model; training publishes models but adds no event; retrieval and ranking
// only read (and hear model and item announcements); without a user nothing
// works.
// A refusal is PERMISSION_DENIED saying it was the ACL and what Redis named.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock/clock.h"
#include "common/events/event.h"
#include "common/model/model_store.h"
#include "common/redis/client.h"
#include "common/redis/keyspace.h"
#include "common/redis/subscriber.h"
#include "services/ingestion/redis_event_storage.h"
#include "tests/support/redis/redis_server.h"

#ifndef RECSTACK_SOURCE_DIR
#error "RECSTACK_SOURCE_DIR must name the source tree (deploy/redis/acl.sh)"
#endif

namespace recstack {
namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

// A subscription (as the options' user) to `channel`, collecting the ids announced.
class Listener {
 public:
  Listener(const redis::Options& options, const std::string& channel)
      : sub_(options, {channel}, [this](std::string_view, std::string_view m) {
          std::lock_guard<std::mutex> lock(mu_);
          for (std::string_view id : redis::ParseUpdates(m)) heard_.emplace_back(id);
        }) {
    sub_.Start();
  }
  ~Listener() { sub_.Stop(); }
  bool WaitConnected() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!sub_.connected() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return sub_.connected();
  }
  // What was heard once there are `n` ids, or after 10 s.
  std::vector<std::string> WaitFor(size_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (heard_.size() >= n || std::chrono::steady_clock::now() >= until) return heard_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  std::mutex mu_;
  std::vector<std::string> heard_;
  redis::Subscriber sub_;
};

class RedisAcl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("recstack-acl-" + std::to_string(::getpid())));
    const std::string cmd =
        std::string(RECSTACK_SOURCE_DIR) + "/deploy/redis/acl.sh " + dir_->string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    server_ = new testing::RedisServer({.password = ReadFile(*dir_ / "admin.password"),
                                        .aclfile = (*dir_ / "users.acl").string(),
                                        .username = "admin"});
    ASSERT_TRUE(server_->Start().ok());
  }
  static void TearDownTestSuite() {
    delete server_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  // A pool logged in as `user` (its password from the ACL folder).
  static std::unique_ptr<redis::Pool> As(const std::string& user) {
    redis::Options o = server_->options();
    o.username = user;
    o.password = user.empty() ? "" : ReadFile(*dir_ / (user + ".password"));
    return std::make_unique<redis::Pool>(o, 2);
  }
  static redis::Options OptionsAs(const std::string& user) {
    redis::Options o = server_->options();
    o.username = user;
    o.password = ReadFile(*dir_ / (user + ".password"));
    return o;
  }
  static void ExpectAclRefusal(const absl::Status& st, const std::string& what) {
    EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
    EXPECT_NE(st.message().find("ACL"), std::string::npos) << st;
    EXPECT_NE(st.message().find(what), std::string::npos) << st;
  }
  static model::ModelData TinyModel() {
    model::ModelData m;
    m.meta.kind = model::ModelKind::kImplicitAls;
    m.meta.factors = 2;
    m.user_ids = {"u1"};
    m.item_ids = {"i1", "i2"};
    m.user_factors = {0.1f, 0.2f};
    m.item_factors = {0.3f, 0.4f, 0.5f, 0.6f};
    return m;
  }

  static std::filesystem::path* dir_;
  static testing::RedisServer* server_;
  redis::Keyspace keys_{"rs:"};
  SystemClock clock_;
};
std::filesystem::path* RedisAcl::dir_ = nullptr;
testing::RedisServer* RedisAcl::server_ = nullptr;

TEST_F(RedisAcl, IngestionWritesEventsAndItemsButNoModel) {
  auto pool = As("ingestion");
  ingestion::RedisEventStorage storage(*pool, keys_);
  ingestion::EventStore store(storage, {}, clock_);
  events::Event e{.event_id = "acl-e1",
                  .user_id = "u1",
                  .item_id = "i1",
                  .type = events::EventType::kClick,
                  .value = 1,
                  .timestamp_ms = clock_.NowMs()};
  auto written = store.Write({e});
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_TRUE(store.UpsertItems({{.item_id = "i1", .title = "One"}}).ok());
  auto history = store.History("u1", 10);
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_EQ(history->size(), 1u);

  ExpectAclRefusal(pool->Command({"SET", "rs:model:current", "forged"}).status(), "keys");
  // It announces items (UpsertItems did, above), not models.
  ExpectAclRefusal(pool->Command({"PUBLISH", "rs:model:updates", "forged"}).status(), "channels");
  model::ModelStore models(*pool, keys_);
  auto published = models.Publish(TinyModel(), {});
  ASSERT_FALSE(published.ok());
  EXPECT_EQ(published.status().code(), absl::StatusCode::kPermissionDenied) << published.status();
  ExpectAclRefusal(pool->Command({"FLUSHALL"}).status(), "'flushall'");
}

TEST_F(RedisAcl, TrainingPublishesModelsButAddsNoEvent) {
  auto pool = As("training");
  model::ModelStore models(*pool, keys_);
  auto published = models.Publish(TinyModel(), {});
  ASSERT_TRUE(published.ok()) << published.status();
  ASSERT_TRUE(models.Promote(published->version).ok());
  ExpectAclRefusal(pool->Command({"XADD", "rs:events", "*", "user", "u1"}).status(), "'xadd'");
  ExpectAclRefusal(pool->Command({"HSET", "rs:item:i1", "title", "forged"}).status(), "keys");
  // The consumer group it reads the log with is its to create and move.
  EXPECT_TRUE(pool->Command({"XGROUP", "CREATE", "rs:events", "acl-test", "0", "MKSTREAM"}).ok());
}

TEST_F(RedisAcl, RetrievalAndRankingOnlyRead) {
  {
    auto training = As("training");
    model::ModelStore models(*training, keys_);
    auto published = models.Publish(TinyModel(), {});
    ASSERT_TRUE(published.ok()) << published.status();
    ASSERT_TRUE(models.Promote(published->version).ok());
  }
  for (const char* user : {"retrieval", "ranking"}) {
    SCOPED_TRACE(user);
    auto pool = As(user);
    model::ModelStore models(*pool, keys_);
    auto current = models.CurrentVersion();
    ASSERT_TRUE(current.ok()) << current.status();
    EXPECT_FALSE(current->empty());
    EXPECT_TRUE(pool->Command({"ZREVRANGE", "rs:hist:u1", "0", "9"}).ok());
    ExpectAclRefusal(pool->Command({"XADD", "rs:events", "*", "user", "u1"}).status(), "'xadd'");
    ExpectAclRefusal(pool->Command({"SET", "rs:model:current", "forged"}).status(), "'set'");
    ExpectAclRefusal(pool->Command({"KEYS", "*"}).status(), "'keys'");
    ExpectAclRefusal(pool->Command({"PUBLISH", "rs:model:updates", "forged"}).status(),
                     "'publish'");
    // It hears the items ingestion announces (its metadata cache forgets
    // them, common/ranking/item_updates.h).
    Listener items(OptionsAs(user), keys_.ItemUpdates());
    ASSERT_TRUE(items.WaitConnected());
    auto ingestion = As("ingestion");
    ingestion::RedisEventStorage storage(*ingestion, keys_);
    ASSERT_TRUE(storage.PutItems({{.item_id = "i1", .title = "One"}, {.item_id = "i2"}}).ok());
    EXPECT_EQ(items.WaitFor(2), (std::vector<std::string>{"i1", "i2"}));
  }
}

// Ingestion's event script announces the users whose histories it changed
// (a refused PUBLISH would fail the whole write); retrieval hears them (its
// history cache forgets them, common/retrieval/history_cache.h); ranking
// holds no histories and may not listen.
TEST_F(RedisAcl, RetrievalHearsWhoseHistoriesChanged) {
  Listener users(OptionsAs("retrieval"), keys_.UserUpdates());
  ASSERT_TRUE(users.WaitConnected());
  auto ingestion = As("ingestion");
  ingestion::RedisEventStorage storage(*ingestion, keys_);
  ingestion::EventStore store(storage, {}, clock_);
  auto written = store.Write({{.event_id = "acl-history-1",
                               .user_id = "announced",
                               .item_id = "i1",
                               .type = events::EventType::kView,
                               .value = 1,
                               .timestamp_ms = clock_.NowMs()}});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(users.WaitFor(1), (std::vector<std::string>{"announced"}));
  auto ranking = As("ranking");
  ExpectAclRefusal(ranking->Command({"SUBSCRIBE", keys_.UserUpdates()}).status(), "channels");
  ExpectAclRefusal(As("retrieval")->Command({"PUBLISH", keys_.UserUpdates(), "forged"}).status(),
                   "'publish'");
}

TEST_F(RedisAcl, WithoutAUserNothingWorks) {
  auto pool = As("");
  absl::Status st = pool->Command({"GET", "rs:model:current"}).status();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("NOAUTH"), std::string::npos) << st;
  redis::Options wrong = server_->options();
  wrong.username = "retrieval";
  wrong.password = "not-its-password";
  redis::Pool bad(wrong, 1);
  st = bad.Command({"PING"}).status();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("check the user and its password"), std::string::npos) << st;
}

}  // namespace
}  // namespace recstack
