// RpcMetrics and the latency buckets, read back through Registry::Collect
// (no sockets; the scrape over HTTP is in tests/integration/grpc).
#include "common/metrics/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace recstack::metrics {
namespace {

const prometheus::MetricFamily* Find(const std::vector<prometheus::MetricFamily>& families,
                                     const std::string& name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::map<std::string, std::string> Labels(const prometheus::ClientMetric& m) {
  std::map<std::string, std::string> out;
  for (const auto& l : m.label) out[l.name] = l.value;
  return out;
}

TEST(RpcMetrics, AllChildrenExistBeforeTheFirstRequest) {
  prometheus::Registry registry;
  RpcMetrics rpc(registry, "retrieval", {"Retrieve", "Similar"});
  auto families = registry.Collect();
  const auto* requests = Find(families, "recstack_rpc_requests_total");
  const auto* latency = Find(families, "recstack_rpc_latency_seconds");
  ASSERT_NE(requests, nullptr);
  ASSERT_NE(latency, nullptr);
  // 2 methods x 17 status codes, all zero, so dashboards see every series.
  EXPECT_EQ(requests->metric.size(), 2u * 17u);
  EXPECT_EQ(latency->metric.size(), 2u);
  std::map<std::string, int> codes;
  for (const auto& m : requests->metric) {
    auto labels = Labels(m);
    EXPECT_EQ(labels["service"], "retrieval");
    EXPECT_EQ(m.counter.value, 0);
    codes[labels["code"]]++;
  }
  EXPECT_EQ(codes.size(), 17u);
  EXPECT_EQ(codes["OK"], 2);
  EXPECT_EQ(codes["UNAUTHENTICATED"], 2);
}

TEST(RpcMetrics, RecordCountsByMethodAndCode) {
  prometheus::Registry registry;
  RpcMetrics rpc(registry, "ranking", {"Rank", "ListRankers"});
  rpc.Record("Rank", absl::StatusCode::kOk, 0.001);
  rpc.Record("Rank", absl::StatusCode::kOk, 0.003);
  rpc.Record("Rank", absl::StatusCode::kUnavailable, 2.0);
  {
    RpcTimer timer(rpc, "ListRankers");
    timer.set_code(absl::StatusCode::kInvalidArgument);
  }
  auto families = registry.Collect();
  const size_t series_before = Find(families, "recstack_rpc_requests_total")->metric.size();
  std::map<std::pair<std::string, std::string>, double> counts;
  for (const auto& m : Find(families, "recstack_rpc_requests_total")->metric) {
    auto labels = Labels(m);
    counts[{labels["method"], labels["code"]}] = m.counter.value;
  }
  EXPECT_EQ((counts[{"Rank", "OK"}]), 2);
  EXPECT_EQ((counts[{"Rank", "UNAVAILABLE"}]), 1);
  EXPECT_EQ((counts[{"ListRankers", "INVALID_ARGUMENT"}]), 1);
  EXPECT_EQ((counts[{"ListRankers", "OK"}]), 0);
  EXPECT_EQ(series_before, 2u * 17u);  // Record added no series
  for (const auto& m : Find(families, "recstack_rpc_latency_seconds")->metric) {
    auto labels = Labels(m);
    if (labels["method"] == "Rank") {
      EXPECT_EQ(m.histogram.sample_count, 3u);
      EXPECT_NEAR(m.histogram.sample_sum, 2.004, 1e-9);
    } else {
      EXPECT_EQ(m.histogram.sample_count, 1u);
    }
  }
}

TEST(RpcMetrics, UnknownMethodIsAProgrammingError) {
  prometheus::Registry registry;
  RpcMetrics rpc(registry, "gateway", {"Recommend"});
  // The crash names the method and the service, so the fix is obvious from
  // the log; any other death (a null deref, a prometheus assert) fails here.
  EXPECT_DEATH(rpc.Record("Nope", absl::StatusCode::kOk, 0.1),
               "RpcMetrics::Record: method 'Nope' of service 'gateway' was not declared to the "
               "constructor");
}

TEST(LatencyBuckets, LogSpacedFrom50usTo10s) {
  auto b = LatencyBuckets();
  ASSERT_EQ(b.size(), static_cast<size_t>(kLatencyBuckets));
  EXPECT_DOUBLE_EQ(b.front(), 50e-6);
  EXPECT_DOUBLE_EQ(b.back(), 10.0);
  const double ratio = b[1] / b[0];
  EXPECT_GT(ratio, 1.5);
  EXPECT_LT(ratio, 2.0);
  for (size_t i = 1; i < b.size(); ++i) {
    EXPECT_NEAR(b[i] / b[i - 1], ratio, 1e-9) << i;
  }
}

TEST(CodeName, MatchesGrpcNames) {
  EXPECT_EQ(CodeName(absl::StatusCode::kOk), "OK");
  EXPECT_EQ(CodeName(absl::StatusCode::kDeadlineExceeded), "DEADLINE_EXCEEDED");
  EXPECT_EQ(CodeName(absl::StatusCode::kResourceExhausted), "RESOURCE_EXHAUSTED");
}

}  // namespace
}  // namespace recstack::metrics
