#pragma once

// A real redis-server for tests (STYLE rule 12): started on a free loopback
// port (or a unix socket) in a fresh temp dir, stopped and cleaned up in the
// destructor. No persistence unless asked for.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/redis/client.h"

namespace recstack::testing {

struct RedisServerOptions {
  std::string password = {};  // requirepass when set ({} so designated initializers may omit it)
  bool unix_socket = false;   // listen on a socket in the temp dir (port 0)
  bool persistent = false;    // AOF with fsync always: data survives Restart()
  std::string binary = "/usr/bin/redis-server";
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
