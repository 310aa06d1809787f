#pragma once

// A real redis-server for tests (STYLE rule 12): started on a free loopback
// port (or a unix socket) in a fresh temp dir, stopped and cleaned up in the
// destructor. No persistence unless asked for.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/redis/client.h"
#include "common/redis/keyspace.h"

namespace recstack::testing {

struct RedisServerOptions {
  std::string password = {};  // requirepass when set ({} so designated initializers may omit it)
  bool unix_socket = false;   // listen on a socket in the temp dir (port 0)
  bool persistent = false;    // AOF with fsync always: data survives Restart()
  std::string binary = "/usr/bin/redis-server";
  // A cluster node: cluster-enabled, its nodes.conf in its folder, and a
  // port whose cluster bus (port + 10000) is free too.
  bool cluster_node = false;
  std::chrono::milliseconds cluster_node_timeout{1000};
  // An ACL file (redis-server --aclfile) and the user that options() logs
  // in as (with `password`, which then is that user's, not requirepass).
  std::string aclfile = {};
  std::string username = {};
};

class RedisServer {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts (again) on the same port/socket; waits until PING answers.
  absl::Status Start();
  // SIGTERM and wait; the port stays reserved for Restart.
  void Stop();
  // SIGKILL, as a crash: nothing is flushed or said to the peers.
  void Kill();
  absl::Status Restart() {
    Stop();
    return Start();
  }
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  std::string url() const { return redis::ToUrl(options()); }
  redis::Options options() const;
  const std::string& dir() const { return dir_; }

 private:
  RedisServerOptions opts_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Picks a free TCP port on 127.0.0.1 (bind to port 0, read it, close).
int FreePort();

// A real Redis Cluster of `masters` masters with `replicas` replicas each,
// formed by `redis-cli --cluster create` on loopback, node timeout short so
// that a killed master's replica is promoted within about two seconds.
struct RedisClusterOptions {
  int masters = 3;
  int replicas = 1;
  std::string password = {};
  std::chrono::milliseconds node_timeout{1000};
};

class RedisCluster {
 public:
  explicit RedisCluster(RedisClusterOptions options = {});
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // OK once the cluster was formed and every slot is served.
  const absl::Status& status() const { return status_; }
  // Client options naming every node as a seed.
  redis::Options options() const;
  std::string url() const { return redis::ToUrl(options()); }
  int size() const { return static_cast<int>(nodes_.size()); }
  RedisServer& node(int i) { return *nodes_[i]; }
  // The node index of the master that serves `slot` now, asked of a live node.
  absl::StatusOr<int> MasterOf(int slot);
  // The node indexes of the masters now.
  absl::StatusOr<std::vector<int>> Masters();
  // Waits until every running node says cluster_state:ok and all 16384
  // slots are served by running masters.
  absl::Status WaitHealthy(std::chrono::milliseconds timeout);
  // FLUSHALL on every master.
  absl::Status FlushAll();

 private:
  absl::StatusOr<std::vector<std::pair<int, int>>> SlotOwners();  // (first slot, node index)
  RedisClusterOptions opts_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  absl::Status status_;
};

// The Redis an end-to-end test runs against: one redis-server, or a real
// 3-master, 3-replica cluster when RECSTACK_TEST_REDIS=cluster (how the
// `cluster` ctest label runs the e2e suite a second time).
class TestRedis {
 public:
  TestRedis();
  bool cluster() const { return cluster_ != nullptr; }
  const absl::Status& status() const;
  redis::Options options() const;
  // The keyspace the services use on it (tagged partitions on a cluster).
  redis::Keyspace keyspace() const { return redis::Keyspace::For(options(), "rs:", 0); }
  // FLUSHALL on the server or every master.
  absl::Status FlushAll();

 private:
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RedisCluster> cluster_;
  absl::Status ok_;
};

// Fixture: one cluster per test suite, flushed before each test.
class RedisClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static RedisCluster& cluster() { return *cluster_; }
  std::unique_ptr<redis::Pool> MakePool(size_t max_connections = 4) const {
    return std::make_unique<redis::Pool>(cluster_->options(), max_connections);
  }

 private:
  static RedisCluster* cluster_;
};

// Fixture: one server per test suite, flushed before each test.
class RedisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static RedisServer& server() { return *server_; }
  // A fresh pool for the test's server.
  std::unique_ptr<redis::Pool> MakePool(size_t max_connections = 4) const {
    return std::make_unique<redis::Pool>(server_->options(), max_connections);
  }

 private:
  static RedisServer* server_;
};

}  // namespace recstack::testing
