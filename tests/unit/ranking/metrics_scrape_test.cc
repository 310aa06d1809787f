// A scrape of /metrics in a process that links what ranking links (OpenBLAS
// and XGBoost, whose static TLS glibc puts on every thread's stack). With
// prometheus-cpp's Exposer the scrape ran on a 100 KB civetweb stack and
// crashed ranking with SIGSEGV; MetricsServer now serves it itself.
#include <gtest/gtest.h>
#include <httplib.h>

#include "common/metrics/metrics.h"

namespace recstack::metrics {
namespace {

TEST(MetricsScrape, ServesAScrapeInRankingsProcess) {
  auto registry = std::make_shared<prometheus::Registry>();
  RpcMetrics rpc(*registry, "ranking", {"Rank"});
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  httplib::Client client("127.0.0.1", (*server)->port());
  for (int i = 0; i < 3; ++i) {
    auto res = client.Get("/metrics");
    ASSERT_TRUE(res) << "no answer from /metrics";
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->body.find("process_cpu_seconds_total"), std::string::npos);
    EXPECT_NE(res->body.find("recstack_rpc_latency_seconds"), std::string::npos) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  }
  EXPECT_EQ(client.Get("/other")->status, 404);
  // A taken port is a clear error, not a crash.
  auto twice = MetricsServer::Start("127.0.0.1:" + std::to_string((*server)->port()), registry);
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(MetricsServer::Start("nonsense", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recstack::metrics
