#include "tests/support/redis/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
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
  if (!opts_.password.empty()) args.insert(args.end(), {"--requirepass", opts_.password});
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
