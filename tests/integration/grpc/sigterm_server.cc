// A service process for the SIGTERM test: blocks the shutdown signals first
// thing (as every recstack main does), serves a RankingService whose
// ListRankers sleeps `argv[1]` ms, and reports on stdout:
//   "port <n>" once serving, "started" when a call enters the handler,
//   "stopped" after Wait() returned.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "common/grpc/server.h"
#include "common/log/log.h"
#include "recstack/v1/ranking.grpc.pb.h"

namespace {

class SlowRanking final : public recstack::v1::RankingService::Service {
 public:
  explicit SlowRanking(int delay_ms) : delay_ms_(delay_ms) {}
  grpc::Status ListRankers(grpc::ServerContext*, const recstack::v1::ListRankersRequest*,
                           recstack::v1::ListRankersResponse* resp) override {
    std::printf("started\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    resp->set_default_ranker("drained");
    return grpc::Status::OK;
  }

 private:
  const int delay_ms_;
};

}  // namespace

int main(int argc, char** argv) {
  recstack::grpcutil::BlockShutdownSignals();
  recstack::log::Init("sigterm-test", "info");
  SlowRanking service(argc > 1 ? std::atoi(argv[1]) : 0);
  recstack::grpcutil::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.drain_timeout = std::chrono::milliseconds(10'000);
  recstack::grpcutil::ServerRunner runner(options, std::make_shared<prometheus::Registry>());
  runner.AddService(&service);
  // A probe thread, so the signal must find its way past other threads.
  runner.SetReadinessProbe([] { return absl::OkStatus(); }, std::chrono::milliseconds(20));
  if (absl::Status st = runner.Start(); !st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::printf("port %d\n", runner.port());
  std::fflush(stdout);
  runner.Wait();
  std::printf("stopped\n");
  std::fflush(stdout);
  return 0;
}
