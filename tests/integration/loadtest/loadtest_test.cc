// The load generator against real gRPC servers on loopback: the built-in
// echo floor, and echo services that misbehave on purpose (fault injection)
// to show that open-loop measurement exposes stalls, errors and timeouts.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "loadtest/echo.h"
#include "loadtest/runner.h"
#include "tests/support/grpc/in_process_server.h"

namespace recstack::loadtest {
namespace {

using std::chrono::milliseconds;

RunOptions FloorOptions(const std::string& addr, double rate, milliseconds duration) {
  RunOptions o;
  o.target = Target::kFloor;
  o.addr = addr;
  o.rate = rate;
  o.duration = duration;
  o.warmup = milliseconds(300);
  o.connections = 2;
  return o;
}

void ExpectOrdered(const RunResult& r) {
  const LatencyHistogram& h = r.latency;
  EXPECT_LE(h.min_ns(), h.Percentile(0.5));
  EXPECT_LE(h.Percentile(0.5), h.Percentile(0.9));
  EXPECT_LE(h.Percentile(0.9), h.Percentile(0.99));
  EXPECT_LE(h.Percentile(0.99), h.Percentile(0.999));
  EXPECT_LE(h.Percentile(0.999), h.max_ns());
}

TEST(LoadTest, FloorRunKeepsTheRateWithoutErrors) {
  auto echo = EchoServer::Start();
  ASSERT_TRUE(echo.ok()) << echo.status();
  const Catalog catalog = Catalog::Synthetic(100, 10);
  auto r = loadtest::Run(FloorOptions((*echo)->address(), 300, milliseconds(2000)), catalog);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->scheduled, 600);
  EXPECT_EQ(r->completed, r->scheduled);
  EXPECT_EQ(r->errors, 0);
  EXPECT_NEAR(r->achieved_rate, 300, 15);
  EXPECT_GT(r->latency.Percentile(0.5), 0);
  ExpectOrdered(*r);
  const nlohmann::json j = r->ToJson();
  for (const char* key :
       {"achieved_rate", "errors", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
}

// Holds every request behind one lock; the n-th request keeps it for
// `stall`: a stop-the-world pause (a GC, a fork, a swap-in).
class StallingEcho final : public v1::EchoService::Service {
 public:
  StallingEcho(int at, milliseconds stall) : at_(at), stall_(stall) {}
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest*, v1::EchoResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (++seen_ == at_) std::this_thread::sleep_for(stall_);
    return grpc::Status::OK;
  }

 private:
  std::mutex mu_;
  int seen_ = 0;
  const int at_;
  const milliseconds stall_;
};

TEST(LoadTest, AServerStallShowsForEveryRequestScheduledDuringIt) {
  // 200/s for 2 s after 0.3 s of warm-up: the stall starts ~1.3 s in and
  // lasts 400 ms, so ~80 of the 400 measured requests were due during it and
  // wait on average 200 ms. A closed-loop client would have sent one.
  StallingEcho service(260, milliseconds(400));
  testing::InProcessServer server({&service});
  auto r = loadtest::Run(FloorOptions(server.address(), 200, milliseconds(2000)),
                         Catalog::Synthetic(10, 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors, 0);
  EXPECT_GE(r->latency.max_ns(), 350'000'000);
  EXPECT_GE(r->latency.Percentile(0.9), 100'000'000);  // the top 10% all queued behind the stall
  EXPECT_GE(r->latency.Percentile(0.99), 300'000'000);
  ExpectOrdered(*r);
}

// Fails every fifth request with UNAVAILABLE.
class FlakyEcho final : public v1::EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest*, v1::EchoResponse*) override {
    if (++seen_ % 5 == 0) return {grpc::StatusCode::UNAVAILABLE, "injected"};
    return grpc::Status::OK;
  }

 private:
  std::atomic<int> seen_{0};
};

TEST(LoadTest, ErrorsAreCountedByCode) {
  FlakyEcho service;
  testing::InProcessServer server({&service});
  RunOptions o = FloorOptions(server.address(), 200, milliseconds(1000));
  o.warmup = milliseconds(0);
  auto r = loadtest::Run(o, Catalog::Synthetic(10, 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->scheduled, 200);
  EXPECT_EQ(r->errors, 40);
  EXPECT_EQ(r->errors_by_code.at("UNAVAILABLE"), 40);
  EXPECT_EQ(r->ok, 160);
}

// Answers after 300 ms, past the client's 50 ms deadline.
class SlowEcho final : public v1::EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest*, v1::EchoResponse*) override {
    std::this_thread::sleep_for(milliseconds(300));
    return grpc::Status::OK;
  }
};

TEST(LoadTest, DeadlinesBoundTheRunAndCountAsErrors) {
  SlowEcho service;
  testing::InProcessServer server({&service});
  RunOptions o = FloorOptions(server.address(), 50, milliseconds(500));
  o.warmup = milliseconds(0);
  o.timeout = milliseconds(50);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = loadtest::Run(o, Catalog::Synthetic(10, 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(r->errors, r->scheduled);
  EXPECT_EQ(r->errors_by_code.at("DEADLINE_EXCEEDED"), r->scheduled);
  EXPECT_GE(r->latency.Percentile(0.5), 50'000'000);
}

TEST(LoadTest, BadOptionsAndUnreachableTargetsAreClearErrors) {
  RunOptions o;
  o.target = Target::kRetrieval;
  o.mix = *Mix::Parse("ingest=1");
  auto r = loadtest::Run(o, Catalog::Synthetic(10, 10));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("does not serve 'ingest'"), absl::string_view::npos);

  RunOptions none = FloorOptions("127.0.0.1:1", 10, milliseconds(100));
  auto u = loadtest::Run(none, Catalog::Synthetic(10, 10));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace recstack::loadtest
