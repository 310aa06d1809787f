#include "tests/support/redis/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace recstack::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

RedisServer::RedisServer(RedisServerOptions options) : opts_(std::move(options)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "recstack-redis-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) != nullptr) dir_ = buf.data();
  port_ = opts_.unix_socket ? 0 : FreePort();
  // A cluster node also listens on port + 10000 (the cluster bus).
  for (int tries = 0; opts_.cluster_node && tries < 100; ++tries) {
    if (port_ > 0 && port_ + 10000 < 65536) {
      int bus = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port_ + 10000));
      const bool free =
          bus >= 0 && bind(bus, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      if (bus >= 0) close(bus);
      if (free) break;
    }
    port_ = FreePort();
  }
  absl::Status st = Start();
  if (!st.ok()) ADD_FAILURE() << "redis-server did not start: " << st.message();
}

RedisServer::~RedisServer() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

redis::Options RedisServer::options() const {
  redis::Options o;
  o.host = "127.0.0.1";
  o.port = port_;
  if (opts_.unix_socket) o.unix_socket = dir_ + "/redis.sock";
  o.username = opts_.username;
  o.password = opts_.password;
  o.connect_timeout = std::chrono::milliseconds(500);
  o.command_timeout = std::chrono::milliseconds(2000);
  return o;
}

absl::Status RedisServer::Start() {
  if (pid_ > 0) return absl::OkStatus();
  std::vector<std::string> args = {opts_.binary,
                                   "--bind",
                                   "127.0.0.1",
                                   "--port",
                                   std::to_string(port_),
                                   "--dir",
                                   dir_,
                                   "--save",
                                   "",
                                   "--appendonly",
                                   opts_.persistent ? "yes" : "no",
                                   "--appendfsync",
                                   "always",
                                   "--daemonize",
                                   "no",
                                   "--logfile",
                                   dir_ + "/redis.log",
                                   "--protected-mode",
                                   "no"};
  if (opts_.unix_socket) {
    args.insert(args.end(), {"--unixsocket", dir_ + "/redis.sock", "--unixsocketperm", "700"});
  }
  if (!opts_.aclfile.empty()) {
    args.insert(args.end(), {"--aclfile", opts_.aclfile});
  } else if (!opts_.password.empty()) {
    args.insert(args.end(), {"--requirepass", opts_.password, "--masterauth", opts_.password});
  }
  if (opts_.cluster_node) {
    args.insert(args.end(),
                {"--cluster-enabled", "yes", "--cluster-config-file", dir_ + "/nodes.conf",
                 "--cluster-node-timeout", std::to_string(opts_.cluster_node_timeout.count()),
                 // A replica may always take over, however long it was cut off.
                 "--cluster-replica-validity-factor", "0"});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, opts_.binary.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
    return absl::InternalError(absl::StrCat("cannot spawn ", opts_.binary));
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto conn = redis::Connection::Connect(options());
    if (conn.ok() && (*conn)->Command({"PING"}).ok()) return absl::OkStatus();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("redis-server exited at start; see ", dir_, "/redis.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Stop();
  return absl::DeadlineExceededError("redis-server did not answer PING within 10 s");
}

void RedisServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

namespace {

// Runs a program to its end; OK when it exits 0.
absl::Status RunToEnd(std::vector<std::string> args, const std::string& log) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot spawn ", args[0]));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(args[0], " failed; see ", log));
  }
  return absl::OkStatus();
}

}  // namespace

RedisCluster::RedisCluster(RedisClusterOptions options) : opts_(std::move(options)) {
  const int n = opts_.masters * (1 + opts_.replicas);
  std::vector<std::string> create = {"/usr/bin/redis-cli", "--cluster", "create"};
  for (int i = 0; i < n; ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(RedisServerOptions{
        .password = opts_.password,
        .cluster_node = true,
        .cluster_node_timeout = opts_.node_timeout,
    }));
    if (!nodes_.back()->running()) {
      status_ = absl::InternalError("a cluster node did not start");
      return;
    }
    create.push_back(absl::StrCat("127.0.0.1:", nodes_.back()->port()));
  }
  create.insert(create.end(),
                {"--cluster-replicas", std::to_string(opts_.replicas), "--cluster-yes"});
  if (!opts_.password.empty()) create.insert(create.end(), {"-a", opts_.password});
  status_ = RunToEnd(create, nodes_[0]->dir() + "/cluster-create.log");
  if (status_.ok()) status_ = WaitHealthy(std::chrono::seconds(30));
}

RedisCluster::~RedisCluster() = default;

redis::Options RedisCluster::options() const {
  redis::Options o = nodes_.empty() ? redis::Options{} : nodes_[0]->options();
  o.cluster_seeds.clear();
  for (const auto& node : nodes_) o.cluster_seeds.emplace_back("127.0.0.1", node->port());
  return o;
}

absl::StatusOr<std::vector<std::pair<int, int>>> RedisCluster::SlotOwners() {
  absl::Status last = absl::UnavailableError("no node is running");
  for (const auto& node : nodes_) {
    if (!node->running()) continue;
    auto conn = redis::Connection::Connect(node->options());
    if (!conn.ok()) {
      last = conn.status();
      continue;
    }
    auto r = (*conn)->Command({"CLUSTER", "SLOTS"});
    if (!r.ok()) {
      last = r.status();
      continue;
    }
    std::vector<std::pair<int, int>> out;
    for (const auto& range : r->elements) {
      const int port = static_cast<int>(range.elements[2].elements[1].integer);
      for (int i = 0; i < size(); ++i) {
        if (nodes_[i]->port() == port) {
          for (long long s = range.elements[0].integer; s <= range.elements[1].integer; ++s)
            out.emplace_back(static_cast<int>(s), i);
        }
      }
    }
    return out;
  }
  return last;
}

absl::StatusOr<int> RedisCluster::MasterOf(int slot) {
  auto owners = SlotOwners();
  if (!owners.ok()) return owners.status();
  for (const auto& [s, node] : *owners) {
    if (s == slot) return node;
  }
  return absl::NotFoundError(absl::StrCat("slot ", slot, " is not served"));
}

absl::StatusOr<std::vector<int>> RedisCluster::Masters() {
  auto owners = SlotOwners();
  if (!owners.ok()) return owners.status();
  std::vector<int> out;
  for (const auto& [s, node] : *owners) {
    if (std::find(out.begin(), out.end(), node) == out.end()) out.push_back(node);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status RedisCluster::WaitHealthy(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string why = "not checked";
  while (std::chrono::steady_clock::now() < deadline) {
    bool ok = true;
    for (const auto& node : nodes_) {
      if (!node->running()) continue;
      auto conn = redis::Connection::Connect(node->options());
      auto info = conn.ok() ? (*conn)->Command({"CLUSTER", "INFO"})
                            : absl::StatusOr<redis::Reply>(conn.status());
      if (!info.ok() || info->str.find("cluster_state:ok") == std::string::npos ||
          info->str.find("cluster_slots_ok:16384") == std::string::npos) {
        why = absl::StrCat("node ", node->port(), ": ",
                           info.ok() ? info->str.substr(0, 120) : info.status().ToString());
        ok = false;
        break;
      }
      // A replica counts once it is in sync with its master.
      auto repl = (*conn)->Command({"INFO", "replication"});
      if (!repl.ok() || (repl->str.find("role:slave") != std::string::npos &&
                         repl->str.find("master_link_status:up") == std::string::npos)) {
        why = absl::StrCat("replica ", node->port(), " is not in sync yet");
        ok = false;
        break;
      }
    }
    if (ok) {
      auto owners = SlotOwners();
      ok = owners.ok() && owners->size() == 16384;
      for (const auto& [s, node] : owners.ok() ? *owners : std::vector<std::pair<int, int>>{}) {
        if (!nodes_[node]->running()) {
          ok = false;
          why = absl::StrCat("slot ", s, " is still served by a stopped node");
          break;
        }
      }
    }
    if (ok) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("cluster not healthy: ", why));
}

absl::Status RedisCluster::FlushAll() {
  auto masters = Masters();
  if (!masters.ok()) return masters.status();
  for (int i : *masters) {
    auto conn = redis::Connection::Connect(nodes_[i]->options());
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Command({"FLUSHALL"});
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

TestRedis::TestRedis() {
  const char* kind = std::getenv("RECSTACK_TEST_REDIS");
  if (kind != nullptr && std::string_view(kind) == "cluster") {
    cluster_ = std::make_unique<RedisCluster>();
    if (!cluster_->status().ok()) ADD_FAILURE() << "redis cluster: " << cluster_->status();
  } else {
    server_ = std::make_unique<RedisServer>();
  }
}

const absl::Status& TestRedis::status() const { return cluster_ ? cluster_->status() : ok_; }

redis::Options TestRedis::options() const {
  return cluster_ ? cluster_->options() : server_->options();
}

absl::Status TestRedis::FlushAll() {
  if (cluster_) return cluster_->FlushAll();
  auto conn = redis::Connection::Connect(server_->options());
  if (!conn.ok()) return conn.status();
  return (*conn)->Command({"FLUSHALL"}).status();
}

RedisCluster* RedisClusterTest::cluster_ = nullptr;

void RedisClusterTest::SetUpTestSuite() {
  if (cluster_ == nullptr) cluster_ = new RedisCluster();
}

void RedisClusterTest::TearDownTestSuite() {
  delete cluster_;
  cluster_ = nullptr;
}

void RedisClusterTest::SetUp() {
  ASSERT_TRUE(cluster_->status().ok()) << cluster_->status();
  // A test may have killed a node: bring it back and let the cluster settle.
  for (int i = 0; i < cluster_->size(); ++i) {
    if (!cluster_->node(i).running()) ASSERT_TRUE(cluster_->node(i).Start().ok());
  }
  ASSERT_TRUE(cluster_->WaitHealthy(std::chrono::seconds(30)).ok());
  ASSERT_TRUE(cluster_->FlushAll().ok());
}

RedisServer* RedisTest::server_ = nullptr;

void RedisTest::SetUpTestSuite() {
  if (server_ == nullptr) server_ = new RedisServer();
}

void RedisTest::TearDownTestSuite() {
  delete server_;
  server_ = nullptr;
}

void RedisTest::SetUp() {
  ASSERT_TRUE(server_->running()) << "redis-server is not running";
  auto conn = redis::Connection::Connect(server_->options());
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE((*conn)->Command({"FLUSHALL"}).ok());
}

}  // namespace recstack::testing
