// Ingestion and the training consumer on a real 3-master, 3-replica Redis
// Cluster (label cluster): keys spread over the masters, the partitioned
// log is read exactly once across a restart of the consumer, and a master
// killed in the middle of an ingest loses no acknowledged event and counts
// none twice.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "common/grpc/channel.h"
#include "common/redis/cluster.h"
#include "recstack/v1/ingestion.grpc.pb.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/redis_event_storage.h"
#include "services/training/event_log.h"
#include "tests/support/grpc/in_process_server.h"
#include "tests/support/redis/redis_server.h"

namespace recstack::ingestion {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ClusterIngest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.status().ok()) << cluster_.status();
    keys_ = redis::Keyspace::For(cluster_.options(), "rs:", 0);
    pool_ = std::make_unique<redis::Pool>(cluster_.options(), 8);
    StoreOptions so;
    so.wait_replicas = 1;  // acknowledged = on a replica too
    storage_ = std::make_unique<RedisEventStorage>(*pool_, keys_);
    store_ = std::make_unique<EventStore>(*storage_, so, clock_);
    registry_ = std::make_shared<prometheus::Registry>();
    service_ = std::make_unique<IngestionServiceImpl>(*store_, clock_, events::ValidationLimits{},
                                                      *registry_);
    server_ =
        std::make_unique<testing::InProcessServer>(std::vector<grpc::Service*>{service_.get()});
    stub_ = v1::IngestionService::NewStub(server_->channel());
    dir_ = std::filesystem::temp_directory_path() /
           ("recstack-cluster-ingest-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  v1::IngestEventsRequest Batch(int first, int n) const {
    v1::IngestEventsRequest req;
    for (int i = first; i < first + n; ++i) {
      v1::Event* e = req.add_events();
      e->set_event_id("e" + std::to_string(i));
      e->set_user_id("u" + std::to_string(i % 3000));
      e->set_item_id("i" + std::to_string((i * 7) % 500));
      e->set_type(v1::VIEW);
      e->set_value(1);
      e->set_timestamp_ms(clock_.NowMs() - 1000);
    }
    return req;
  }

  grpc::Status Send(const v1::IngestEventsRequest& req) {
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, 5s);
    v1::IngestEventsResponse resp;
    return stub_->IngestEvents(&ctx, req, &resp);
  }

  // Sum of the partition streams' lengths.
  int64_t LoggedEvents() {
    int64_t total = 0;
    for (int p = 0; p < keys_.partitions(); ++p) {
      auto r = pool_->Command({"XLEN", keys_.Events(p)});
      EXPECT_TRUE(r.ok()) << r.status();
      total += r.ok() ? r->integer : 0;
    }
    return total;
  }

  // The distinct event ids over every partition stream.
  std::set<std::string> LoggedIds(int64_t* entries) {
    std::set<std::string> ids;
    *entries = 0;
    for (int p = 0; p < keys_.partitions(); ++p) {
      auto r = pool_->Command({"XRANGE", keys_.Events(p), "-", "+"});
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) continue;
      for (const auto& entry : r->elements) {
        ++*entries;
        const auto& f = entry.elements[1].elements;
        for (size_t k = 0; k + 1 < f.size(); k += 2) {
          if (f[k].str == "id") ids.insert(f[k + 1].str);
        }
      }
    }
    return ids;
  }

  testing::RedisCluster cluster_;
  redis::Keyspace keys_;
  SystemClock clock_;
  std::unique_ptr<redis::Pool> pool_;
  std::unique_ptr<RedisEventStorage> storage_;
  std::unique_ptr<EventStore> store_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<IngestionServiceImpl> service_;
  std::unique_ptr<testing::InProcessServer> server_;
  std::unique_ptr<v1::IngestionService::Stub> stub_;
  std::filesystem::path dir_;
};

TEST_F(ClusterIngest, KeysSpreadAndTheConsumerReadsEveryPartitionOnce) {
  ASSERT_EQ(keys_.partitions(), redis::Keyspace::kClusterPartitions);
  for (int first = 0; first < 20'000; first += 1000) {
    grpc::Status st = Send(Batch(first, 1000));
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(LoggedEvents(), 20'000);
  // Every master holds 20-47% of the keys.
  auto masters = cluster_.Masters();
  ASSERT_TRUE(masters.ok()) << masters.status();
  ASSERT_EQ(masters->size(), 3u);
  std::vector<long long> sizes;
  long long total = 0;
  for (int m : *masters) {
    auto conn = redis::Connection::Connect(cluster_.node(m).options());
    ASSERT_TRUE(conn.ok());
    sizes.push_back((*conn)->Command({"DBSIZE"})->integer);
    total += sizes.back();
  }
  for (long long n : sizes) {
    EXPECT_GE(n, total * 20 / 100) << n << " of " << total;
    EXPECT_LE(n, total * 47 / 100) << n << " of " << total;
  }
  // Trending merges the partitions: the counts add up to the events.
  auto top = store_->Trending(500, 0);
  ASSERT_TRUE(top.ok()) << top.status();
  double sum = 0;
  for (const auto& t : *top) sum += t.score;
  EXPECT_NEAR(sum, 20'000, 20'000 * 0.01);  // decayed by a second or so of a 24 h half-life
  // The training consumer: every partition, every event once, across a restart.
  {
    training::EventLog log(*pool_, keys_, dir_.string());
    ASSERT_TRUE(log.Open().ok());
    auto added = log.Sync();
    ASSERT_TRUE(added.ok()) << added.status();
    EXPECT_EQ(*added, 20'000);
    EXPECT_EQ(*log.StreamLength(), 20'000);
  }
  ASSERT_TRUE(Send(Batch(20'000, 500)).ok());
  training::EventLog again(*pool_, keys_, dir_.string());
  ASSERT_TRUE(again.Open().ok());
  EXPECT_EQ(again.size(), 20'000);
  auto added = again.Sync();
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 500);
  EXPECT_EQ(again.size(), 20'500);
}

TEST_F(ClusterIngest, MasterKilledDuringIngestLosesNoAcknowledgedEvent) {
  constexpr int kEvents = 100'000, kBatch = 500;
  std::atomic<int> acked{0};
  std::atomic<bool> done{false};
  int failed_attempts = 0;
  Clock::duration longest_gap{};
  const auto start = Clock::now();
  auto ingest = [&] {
    auto last_ok = Clock::now();
    for (int first = 0; first < kEvents; first += kBatch) {
      // Retried until acknowledged: the event ids make retries idempotent.
      for (int attempt = 0;; ++attempt) {
        grpc::Status st = Send(Batch(first, kBatch));
        if (st.ok()) break;
        ++failed_attempts;
        ASSERT_LT(attempt, 200) << "batch " << first
                                << " never acknowledged: " << st.error_message();
        std::this_thread::sleep_for(50ms);
      }
      longest_gap = std::max(longest_gap, Clock::now() - last_ok);
      last_ok = Clock::now();
      acked += kBatch;
    }
  };
  std::thread client([&] {
    ingest();
    done = true;  // also when a batch was never acknowledged (the test failed)
  });
  // Kill the master of partition 0 a third of the way in.
  while (acked < kEvents / 3 && !done) std::this_thread::sleep_for(5ms);
  auto victim = cluster_.MasterOf(redis::KeySlot(keys_.Events(0)));
  ASSERT_TRUE(victim.ok()) << victim.status();
  cluster_.node(*victim).Kill();
  const int acked_at_kill = acked;
  const double seconds_at_kill = std::chrono::duration<double>(Clock::now() - start).count();
  client.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_EQ(acked, kEvents);
  int64_t entries = 0;
  const std::set<std::string> ids = LoggedIds(&entries);
  EXPECT_EQ(static_cast<int64_t>(ids.size()), kEvents);  // nothing acknowledged was lost
  EXPECT_EQ(entries, kEvents);                           // nothing counted twice
  EXPECT_EQ(LoggedEvents(), kEvents);
  auto now_owner = cluster_.MasterOf(redis::KeySlot(keys_.Events(0)));
  ASSERT_TRUE(now_owner.ok());
  EXPECT_NE(*now_owner, *victim);
  std::printf(
      "cluster ingest: %d events in %.1f s (%.0f/s, %.0f/s per master), master %d killed after "
      "%d acknowledged (%.0f/s until then); %d failed attempts retried; longest wait for an "
      "acknowledgement %.2f s\n",
      kEvents, seconds, kEvents / seconds, kEvents / seconds / 3, *victim, acked_at_kill,
      acked_at_kill / seconds_at_kill, failed_attempts,
      std::chrono::duration<double>(longest_gap).count());
}

}  // namespace
}  // namespace recstack::ingestion
