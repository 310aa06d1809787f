// ServerRunner with a real gRPC server on loopback: health, readiness,
// reflection, metrics and graceful drain.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "common/grpc/channel.h"
#include "common/grpc/server.h"
#include "common/metrics/metrics.h"
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
  grpc::Status ListRankers(grpc::ServerContext*, const recstack::v1::ListRankersRequest*,
                           recstack::v1::ListRankersResponse* resp) override {
    started++;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
    resp->set_default_ranker("ok");
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
  ServerRunner runner(ServerOptions{.listen = "127.0.0.1:0"}, registry);
  runner.AddService(&svc);
  runner.SetReadinessProbe(
      [&]() { return redis_up ? absl::OkStatus() : absl::UnavailableError("redis down"); }, 50ms);
  ASSERT_TRUE(runner.Start().ok());
  auto ch = MakeChannel(runner.address());
  // Starts even though the dependency is down, and says so.
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(CheckHealth(*ch, 1s).ok());
  redis_up = true;
  EXPECT_TRUE(WaitForServing(runner.address(), 3s).ok());
  redis_up = false;
  bool went_down = false;
  for (int i = 0; i < 100 && !went_down; ++i) {
    went_down = !CheckHealth(*ch, 1s).ok();
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(went_down);
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
  auto call = stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
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

TEST(Metrics, RpcMetricsAreScraped) {
  SlowRanking svc;
  testing::InProcessServer server({&svc}, /*with_metrics=*/true);
  metrics::RpcMetrics rpc(server.registry(), "ranking", {"Rank", "ListRankers"});
  rpc.Record("Rank", absl::StatusCode::kOk, 0.002);
  rpc.Record("Rank", absl::StatusCode::kInvalidArgument, 0.0001);
  { metrics::RpcTimer t(rpc, "ListRankers"); }
  httplib::Client http("127.0.0.1", server.runner().metrics_port());
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const std::string& body = res->body;
  EXPECT_NE(body.find("recstack_rpc_requests_total{code=\"OK\",method=\"Rank\",service=\"ranking\"} 1"),
            std::string::npos)
      << body.substr(0, 2000);
  EXPECT_NE(body.find("code=\"INVALID_ARGUMENT\",method=\"Rank\",service=\"ranking\"} 1"),
            std::string::npos);
  EXPECT_NE(body.find("recstack_rpc_latency_seconds_count{method=\"ListRankers\",service=\"ranking\"} 1"),
            std::string::npos);
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
