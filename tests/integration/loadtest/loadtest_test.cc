// The load generator against real gRPC servers on loopback: the built-in
// echo floor, and echo services that misbehave on purpose (fault injection)
// to show that open-loop measurement exposes stalls, errors and timeouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "loadtest/echo.h"
#include "loadtest/runner.h"
#include "recstack/v1/ingestion.grpc.pb.h"
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

// An ingestion service that stores what it accepts and misbehaves on
// purpose: every 4th call fails UNAVAILABLE (nothing stored), and in every
// 3rd call that gets through the second event is rejected (not stored).
class FlakyIngestion final : public v1::IngestionService::Service {
 public:
  grpc::Status IngestEvents(grpc::ServerContext*, const v1::IngestEventsRequest* req,
                            v1::IngestEventsResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (calls_ % 4 == 0) return {grpc::StatusCode::UNAVAILABLE, "injected"};
    for (int i = 0; i < req->events_size(); ++i) {
      if (calls_ % 3 == 0 && i == 1) {
        v1::RejectedEvent* r = resp->add_rejected();
        r->set_index(i);
        r->set_event_id(req->events(i).event_id());
        r->set_reason("injected");
        continue;
      }
      stored_.push_back(req->events(i).event_id());
    }
    resp->set_accepted(static_cast<int32_t>(stored_.size()));
    return grpc::Status::OK;
  }
  std::vector<std::string> stored() {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_;
  }

 private:
  std::mutex mu_;
  int calls_ = 0;
  std::vector<std::string> stored_;
};

TEST(LoadTest, AckedEventsAreExactlyTheStoredOnes) {
  FlakyIngestion service;
  testing::InProcessServer server({&service});
  RunOptions o;
  o.target = Target::kIngestion;
  o.addr = server.address();
  o.mix = *Mix::Parse("ingest=1");
  o.rate = 200;
  o.warmup = milliseconds(200);
  o.duration = milliseconds(1000);
  o.ingest_batch = 2;
  o.connections = 2;
  o.event_id_prefix = "drill-";
  auto r = loadtest::Run(o, Catalog::Synthetic(50, 50));
  ASSERT_TRUE(r.ok()) << r.status();
  // 240 calls of 2 events, warm-up included.
  EXPECT_EQ(r->events_sent, 2 * r->sent);
  EXPECT_EQ(r->sent, 240);
  const int64_t t1 =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::vector<std::string> acked, stored = service.stored();
  for (const AckedEvent& e : r->acked_events) {
    acked.push_back(e.id);
    // Answered within the run: after the window's start (less the warm-up).
    EXPECT_GE(e.unix_ms, r->window_start_unix_ms - 300);
    EXPECT_LE(e.unix_ms, t1);
  }
  std::sort(acked.begin(), acked.end());
  std::sort(stored.begin(), stored.end());
  EXPECT_EQ(acked, stored);
  // 60 calls failed, 60 of the other 180 had an event rejected.
  EXPECT_EQ(static_cast<int64_t>(acked.size()), 2 * 180 - 60);
  EXPECT_TRUE(std::adjacent_find(acked.begin(), acked.end()) == acked.end());  // unique ids
  for (const std::string& id : acked) EXPECT_EQ(id.rfind("drill-", 0), 0u) << id;
  const nlohmann::json j = r->ToJson();
  EXPECT_EQ(j["events"]["id_prefix"], "drill-");
  EXPECT_EQ(j["events"]["sent"], 480);
  EXPECT_EQ(j["events"]["acked"], 300);
  EXPECT_GT(j["window_start_unix_ms"].get<int64_t>(), 1'600'000'000'000);

  // Without a prefix the ids are the server's to make, and none is listed.
  o.event_id_prefix.clear();
  o.duration = milliseconds(200);
  auto plain = loadtest::Run(o, Catalog::Synthetic(50, 50));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->acked_events.empty());
  EXPECT_FALSE(plain->ToJson().contains("events"));
}

}  // namespace
}  // namespace recstack::loadtest
