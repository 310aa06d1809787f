// ServerRunner with a real gRPC server on loopback: health, readiness,
// reflection, metrics and graceful drain.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc/admission.h"
#include "common/grpc/channel.h"
#include "common/grpc/server.h"
#include "common/metrics/metrics.h"
#include "common/overload/call_scope.h"
#include "recstack/v1/ranking.grpc.pb.h"
#include "tests/support/grpc/in_process_server.h"

namespace recstack::grpcutil {
namespace {

using namespace std::chrono_literals;

// A trivial service: ListRankers answers after `delay`.
class SlowRanking final : public recstack::v1::RankingService::Service {
 public:
  std::atomic<int> delay_ms{0};
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  grpc::Status ListRankers(grpc::ServerContext*, const recstack::v1::ListRankersRequest*,
                           recstack::v1::ListRankersResponse* resp) override {
    started++;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
    resp->set_default_ranker("ok");
    finished++;
    return grpc::Status::OK;
  }
};

grpc::Status Call(grpc::Channel& ch, std::chrono::milliseconds timeout) {
  std::shared_ptr<grpc::Channel> ref(&ch, [](grpc::Channel*) {});
  auto stub = recstack::v1::RankingService::NewStub(ref);
  grpc::ClientContext ctx;
  SetDeadline(ctx, timeout);
  recstack::v1::ListRankersResponse resp;
  return stub->ListRankers(&ctx, {}, &resp);
}

// A handler that admits itself through the limiter, as the services do.
class AdmittingRanking final : public recstack::v1::RankingService::Service {
 public:
  overload::ConcurrencyLimiter limiter{"test", overload::LimiterOptions{}, nullptr};
  std::atomic<int> held_in_handler{-1};
  std::atomic<int> inflight_in_handler{-1};
  grpc::Status ListRankers(grpc::ServerContext* ctx, const recstack::v1::ListRankersRequest*,
                           recstack::v1::ListRankersResponse* resp) override {
    {
      Admission admission = Admit(&limiter, *ctx);
      if (!Admitted(admission)) return admission.status;
    }
    // The admission is gone, its permit is not: the server's hooks keep it
    // until the answer has been sent.
    held_in_handler = overload::HeldForCall();
    inflight_in_handler = limiter.inflight();
    resp->set_default_ranker("ok");
    return grpc::Status::OK;
  }
};

// A service's permit is released after the call's answer is sent, not when
// its handler (or its Admission) ends: the server's hooks mark every call.
TEST(ServerRunner, APermitIsHeldUntilTheAnswerIsSent) {
  AdmittingRanking svc;
  testing::InProcessServer server({&svc});
  ASSERT_TRUE(Call(*server.channel(), 2s).ok());
  EXPECT_EQ(svc.held_in_handler.load(), 1);
  EXPECT_EQ(svc.inflight_in_handler.load(), 1);
  // Released once the call ended (just after the client got its answer).
  for (int i = 0; i < 200 && svc.limiter.inflight() != 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(svc.limiter.inflight(), 0);
}

TEST(ServerRunner, ServesAndReportsHealth) {
  SlowRanking svc;
  testing::InProcessServer server({&svc});
  EXPECT_GT(server.runner().port(), 0);
  EXPECT_TRUE(Call(*server.channel(), 2s).ok());
  EXPECT_TRUE(CheckHealth(*server.channel(), 1s).ok());
  EXPECT_TRUE(WaitForServing(server.address(), 2s).ok());
}

TEST(ServerRunner, ReadinessProbeDrivesHealth) {
  SlowRanking svc;
  std::atomic<bool> redis_up{false};
  auto registry = std::make_shared<prometheus::Registry>();
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  ServerRunner runner(options, registry);
  runner.AddService(&svc);
  runner.SetReadinessProbe(
      [&]() { return redis_up ? absl::OkStatus() : absl::UnavailableError("redis down"); }, 50ms);
  ASSERT_TRUE(runner.Start().ok());
  auto ch = MakeChannel(runner.address());
  // Starts even though the dependency is down, and says so.
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(CheckHealth(*ch, 1s).ok());
  // Alive all the same: a liveness probe must not restart it.
  EXPECT_TRUE(CheckHealth(*ch, 1s, kLivenessService).ok());
  redis_up = true;
  EXPECT_TRUE(WaitForServing(runner.address(), 3s).ok());
  redis_up = false;
  bool went_down = false;
  for (int i = 0; i < 100 && !went_down; ++i) {
    went_down = !CheckHealth(*ch, 1s).ok();
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(went_down);
  EXPECT_TRUE(CheckHealth(*ch, 1s, kLivenessService).ok());
  runner.Shutdown();
}

TEST(ServerRunner, ReflectionListsServices) {
  SlowRanking svc;
  testing::InProcessServer server({&svc});
  // ServerReflectionInfo is a bidi stream; ask for list_services with a
  // generic call so the test needs no reflection proto.
  grpc::GenericStub stub(server.channel());
  grpc::ClientContext ctx;
  SetDeadline(ctx, 2s);
  grpc::CompletionQueue cq;
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  // ServerReflectionRequest{ list_services = "" } : field 7, string, empty.
  const char req_bytes[] = {0x3a, 0x00};
  grpc::Slice slice(req_bytes, sizeof(req_bytes));
  grpc::ByteBuffer req(&slice, 1);
  call->Write(req, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer resp;
  call->Read(&resp, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(resp.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("recstack.v1.RankingService"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
  ctx.TryCancel();
  call->Finish(nullptr, reinterpret_cast<void*>(4));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST(ServerRunner, ShutdownDrainsInFlightCalls) {
  SlowRanking svc;
  svc.delay_ms = 300;
  testing::InProcessServer server({&svc});
  auto ch = server.channel();
  auto in_flight = std::async(std::launch::async, [&] { return Call(*ch, 5s); });
  while (svc.started.load() == 0) std::this_thread::sleep_for(5ms);
  server.Stop();  // returns after the drain
  EXPECT_TRUE(in_flight.get().ok()) << "an in-flight call was cut off";
  EXPECT_FALSE(Call(*ch, 500ms).ok()) << "a call after shutdown was served";
}

TEST(ServerRunner, ShutdownFromManyThreadsWhileWaiting) {
  SlowRanking svc;
  svc.delay_ms = 200;
  auto registry = std::make_shared<prometheus::Registry>();
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  ServerRunner runner(options, registry);
  runner.AddService(&svc);
  ASSERT_TRUE(runner.Start().ok());
  auto ch = MakeChannel(runner.address());
  auto in_flight = std::async(std::launch::async, [&] { return Call(*ch, 5s); });
  while (svc.started.load() == 0) std::this_thread::sleep_for(5ms);
  auto waiter = std::async(std::launch::async, [&] { runner.Wait(); });
  std::vector<std::thread> stoppers;
  std::atomic<int> returned_while_running{0};
  for (int i = 0; i < 3; ++i) {
    stoppers.emplace_back([&] {
      runner.Shutdown();
      // Every caller returns only after the server stopped, so the slow
      // handler has completed by now.
      if (svc.finished.load() == 0) returned_while_running++;
    });
  }
  for (auto& t : stoppers) t.join();
  waiter.get();
  EXPECT_EQ(returned_while_running.load(), 0);
  EXPECT_TRUE(in_flight.get().ok());
  EXPECT_FALSE(runner.serving());
  runner.Shutdown();  // idempotent
}

TEST(ServerRunner, WaitReturnsWhenNeverStarted) {
  ServerRunner runner(ServerOptions{}, std::make_shared<prometheus::Registry>());
  // Wait on another thread, so that a Wait that blocks (for a signal that
  // never comes) fails the test instead of hanging it. Nothing calls
  // Shutdown before the check: Wait must return on its own.
  auto waited = std::async(std::launch::async, [&] { runner.Wait(); });
  const bool returned = waited.wait_for(5s) == std::future_status::ready;
  EXPECT_TRUE(returned) << "Wait() blocked on a runner that was never started";
  if (!returned) runner.Shutdown();  // lets a blocked Wait return, so the future can be joined
  waited.get();
  // Nor did Wait start anything: no port, not serving.
  EXPECT_EQ(runner.port(), 0);
  EXPECT_EQ(runner.metrics_port(), 0);
  EXPECT_FALSE(runner.serving());
}

TEST(ServerRunner, StartFailsOnPortInUse) {
  SlowRanking svc;
  testing::InProcessServer first({&svc});
  SlowRanking svc2;
  ServerOptions options;
  options.listen = first.address();
  ServerRunner second(options, std::make_shared<prometheus::Registry>());
  second.AddService(&svc2);
  absl::Status st = second.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(st.message()).find("--listen"), std::string::npos) << st.message();
}

// A child process that blocked SIGTERM in main: the signal starts the drain,
// the in-flight call completes, the process exits 0.
class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) fclose(out_);
  }
  bool running() const { return pid_ > 0 && out_ != nullptr; }
  pid_t pid() const { return pid_; }
  // The next stdout line without its newline; "" at end of output.
  std::string ReadLine() {
    char buf[256];
    if (fgets(buf, sizeof(buf), out_) == nullptr) return "";
    std::string line(buf);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  }
  // The exit status as waitpid reports it.
  int Join() {
    int status = -1;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

TEST(ServerRunner, SigtermDrainsAndExitsCleanly) {
  ChildProcess child({RECSTACK_SIGTERM_SERVER, "400"});
  ASSERT_TRUE(child.running());
  std::string first = child.ReadLine();
  int port = 0;
  ASSERT_EQ(std::sscanf(first.c_str(), "port %d", &port), 1) << first;
  const std::string address = "127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(WaitForServing(address, 5s).ok());
  auto ch = MakeChannel(address);
  auto in_flight = std::async(std::launch::async, [&] { return Call(*ch, 10s); });
  ASSERT_EQ(child.ReadLine(), "started");
  ASSERT_EQ(kill(child.pid(), SIGTERM), 0);
  grpc::Status st = in_flight.get();
  EXPECT_TRUE(st.ok()) << "in-flight call cut off by SIGTERM: " << st.error_message();
  EXPECT_EQ(child.ReadLine(), "stopped");
  int status = child.Join();
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(Call(*ch, 500ms).ok()) << "the stopped process still answers";
}

TEST(Metrics, RpcMetricsAreScraped) {
  SlowRanking svc;
  testing::InProcessServer server({&svc}, /*with_metrics=*/true);
  metrics::RpcMetrics rpc(server.registry(), "ranking", {"Rank", "ListRankers"});
  rpc.Record("Rank", absl::StatusCode::kOk, 0.002);
  rpc.Record("Rank", absl::StatusCode::kInvalidArgument, 0.0001);
  { metrics::RpcTimer t(rpc, "ListRankers"); }
  httplib::Client http("127.0.0.1", server.runner().metrics_port());
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res) << "port " << server.runner().metrics_port() << ": "
                   << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200);
  const std::string& body = res->body;
  EXPECT_NE(
      body.find("recstack_rpc_requests_total{code=\"OK\",method=\"Rank\",service=\"ranking\"} 1"),
      std::string::npos)
      << body.substr(0, 2000);
  EXPECT_NE(body.find("code=\"INVALID_ARGUMENT\",method=\"Rank\",service=\"ranking\"} 1"),
            std::string::npos);
  EXPECT_NE(
      body.find("recstack_rpc_latency_seconds_count{method=\"ListRankers\",service=\"ranking\"} 1"),
      std::string::npos);
}

// MakeChannel balances round_robin over every address of the target: two
// servers behind one ipv4: list each get half the calls; one stopped, the
// other gets them all.
TEST(Channel, RoundRobinOverEveryAddress) {
  SlowRanking a_svc, b_svc;
  testing::InProcessServer a({&a_svc}), b({&b_svc});
  auto ch = MakeChannel(
      absl::StrCat("ipv4:127.0.0.1:", a.runner().port(), ",127.0.0.1:", b.runner().port()));
  // Until both connections are up, calls go to whichever is.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((a_svc.finished == 0 || b_svc.finished == 0) &&
         std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(Call(*ch, 2s).ok());
  }
  ASSERT_GT(a_svc.finished, 0);
  ASSERT_GT(b_svc.finished, 0);
  const int a0 = a_svc.finished, b0 = b_svc.finished;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Call(*ch, 2s).ok());
  EXPECT_EQ(a_svc.finished - a0, 50);
  EXPECT_EQ(b_svc.finished - b0, 50);

  b.Stop();
  const int a1 = a_svc.finished, b1 = b_svc.finished;
  int failed = 0;
  for (int i = 0; i < 50; ++i) failed += Call(*ch, 2s).ok() ? 0 : 1;
  // A call may have been on its way to b as it went away; none after that.
  EXPECT_LE(failed, 1);
  EXPECT_EQ(a_svc.finished - a1, 50 - failed);
  EXPECT_EQ(b_svc.finished, b1);
}

// The dns: form of a target works with a literal address (no DNS server
// is asked) and the policy applies to it too.
TEST(Channel, DnsTargetIsDialed) {
  SlowRanking svc;
  testing::InProcessServer server({&svc});
  auto ch = MakeChannel(absl::StrCat("dns:///127.0.0.1:", server.runner().port()));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Call(*ch, 2s).ok());
  EXPECT_EQ(svc.finished, 5);
}

// max_connection_age: the server sends GOAWAY after about that long, so a
// client leaves READY (and re-resolves before it reconnects); calls go on.
TEST(ServerRunner, MaxConnectionAgeRecyclesConnections) {
  for (auto age : {0ms, 300ms}) {
    SCOPED_TRACE(age.count());
    SlowRanking svc;
    ServerOptions options;
    options.max_connection_age = age;
    ServerRunner runner(options, std::make_shared<prometheus::Registry>());
    runner.AddService(&svc);
    ASSERT_TRUE(runner.Start().ok());
    auto ch = MakeChannel(runner.address());
    ASSERT_TRUE(Call(*ch, 2s).ok());
    ASSERT_EQ(ch->GetState(false), GRPC_CHANNEL_READY);
    // Without an age the connection stays up (the keepalive is 30 s).
    const bool changed =
        ch->WaitForStateChange(GRPC_CHANNEL_READY, std::chrono::system_clock::now() + 2s);
    EXPECT_EQ(changed, age > 0ms);
    EXPECT_TRUE(Call(*ch, 2s).ok());
  }
}

TEST(Channel, DeadlineNeverExceedsIncoming) {
  grpc::ClientContext ctx;
  const auto before = std::chrono::system_clock::now();
  SetDeadline(ctx, 200ms);
  EXPECT_LE(ctx.deadline(), before + 300ms);
  EXPECT_GE(ctx.deadline(), before + 150ms);
}

}  // namespace
}  // namespace recstack::grpcutil
