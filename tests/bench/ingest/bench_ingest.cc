// recstack-bench-ingest: ml-100k through a real ingestion service backed by a
// real redis-server, against the floor of the same writes made straight to
// Redis in the same run: the store's own Lua script (marker, stream,
// history, hourly and decayed popularity), pipelined per batch, without
// gRPC, validation or proto conversion. The ratio is what the service adds.
// Prints one JSON object.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include <unistd.h>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/data/loaders.h"
#include "common/grpc/channel.h"
#include "recstack/v1/ingestion.grpc.pb.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/redis_event_storage.h"
#include "services/training/event_log.h"
#include "tests/support/grpc/in_process_server.h"
#include "tests/support/redis/redis_server.h"

namespace {

using namespace recstack;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Ingestion throughput vs pipelined Redis (prints one JSON object)"};
  std::string path = std::string(RECSTACK_DATA_DIR) + "/ml-100k/u.data";
  int batch = 1000, reps = 3;
  app.add_option("--data", path, "MovieLens u.data")->capture_default_str();
  app.add_option("--batch", batch, "events per batch")->capture_default_str();
  app.add_option("--reps", reps, "repetitions (median reported)")->capture_default_str();
  bool json = true;
  app.add_flag("--json,!--no-json", json, "JSON output (default)");
  int masters = 0;
  app.add_option("--cluster", masters,
                 "run on a Redis Cluster of this many masters (one replica each; 0: one "
                 "redis-server)")
      ->check(CLI::Range(0, 8))
      ->capture_default_str();
  int cluster_replicas = 1;
  app.add_option("--cluster-replicas", cluster_replicas, "replicas per master with --cluster")
      ->check(CLI::Range(0, 2))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto rows = data::LoadInteractions(path, data::Format::kMovieLens);
  if (!rows.ok()) {
    std::cerr << "recstack-bench-ingest: " << rows.status().message() << "\n";
    return 1;
  }
  const int64_t now = 1767225600000, shift = now - 893286638000;
  std::unique_ptr<recstack::testing::RedisServer> single;
  std::unique_ptr<recstack::testing::RedisCluster> cluster;
  redis::Options redis_options;
  if (masters > 0) {
    cluster = std::make_unique<recstack::testing::RedisCluster>(
        recstack::testing::RedisClusterOptions{.masters = masters, .replicas = cluster_replicas});
    if (!cluster->status().ok()) {
      std::cerr << "recstack-bench-ingest: " << cluster->status().message() << "\n";
      return 1;
    }
    redis_options = cluster->options();
  } else {
    single = std::make_unique<recstack::testing::RedisServer>();
    redis_options = single->options();
  }
  auto flush = [&] {
    if (cluster) return cluster->FlushAll();
    auto conn = redis::Connection::Connect(redis_options);
    return conn.ok() ? (*conn)->Command({"FLUSHALL"}).status() : conn.status();
  };
  const redis::Keyspace keys = redis::Keyspace::For(redis_options, "rs:", 0);
  redis::Pool pool(redis_options, 8);
  ManualClock clock(now);
  ingestion::RedisEventStorage storage(pool, keys);
  ingestion::EventStore store(storage, {}, clock);
  auto registry = std::make_shared<prometheus::Registry>();
  ingestion::IngestionServiceImpl service(store, clock, {}, *registry);
  recstack::testing::InProcessServer server({&service});
  auto stub = v1::IngestionService::NewStub(server.channel());

  // Requests are built before timing: the client's cost is not the service's.
  std::vector<v1::IngestEventsRequest> batches;
  std::vector<std::vector<events::Event>> domain_batches;
  for (size_t b = 0; b < rows->size(); b += batch) {
    v1::IngestEventsRequest req;
    std::vector<events::Event>& events = domain_batches.emplace_back();
    for (size_t i = b; i < std::min(rows->size(), b + batch); ++i) {
      const auto& r = (*rows)[i];
      v1::Event* e = req.add_events();
      e->set_user_id(r.user);
      e->set_item_id(r.item);
      e->set_type(v1::RATING);
      e->set_value(r.value);
      e->set_event_id(
          events::DeriveEventId(r.user, r.item, events::EventType::kRating, r.timestamp_ms));
      e->set_timestamp_ms(r.timestamp_ms + shift);
      events.push_back({.event_id = e->event_id(),
                        .user_id = r.user,
                        .item_id = r.item,
                        .type = events::EventType::kRating,
                        .value = r.value,
                        .timestamp_ms = r.timestamp_ms + shift});
    }
    batches.push_back(std::move(req));
  }
  std::vector<double> service_eps, floor_eps;
  int64_t accepted = 0;
  for (int rep = 0; rep < reps; ++rep) {
    flush().IgnoreError();
    grpc::ClientContext ctx;
    v1::StreamEventsResponse summary;
    const double t0 = Now();
    auto writer = stub->StreamEvents(&ctx, &summary);
    for (const auto& req : batches) writer->Write(req);
    writer->WritesDone();
    grpc::Status st = writer->Finish();
    const double secs = Now() - t0;
    if (!st.ok() || summary.accepted() != static_cast<int64_t>(rows->size())) {
      std::cerr << "recstack-bench-ingest: service run failed: " << st.error_message() << "\n";
      return 1;
    }
    accepted = summary.accepted();
    service_eps.push_back(rows->size() / secs);

    // The floor: the store's own script, pipelined per batch, straight to
    // Redis (no gRPC, no validation).
    flush().IgnoreError();
    const double f0 = Now();
    for (const auto& events : domain_batches) {
      auto r = store.Write(events);
      if (!r.ok()) {
        std::cerr << "recstack-bench-ingest: floor run failed: " << r.status().message() << "\n";
        return 1;
      }
    }
    floor_eps.push_back(rows->size() / (Now() - f0));
  }
  // The trainer's side: the stream left by the last run (the floor's), read
  // into a fresh snapshot through the consumer the training service uses.
  double consume_eps = 0;
  {
    const std::string dir = std::filesystem::temp_directory_path() /
                            ("recstack-bench-ingest-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    training::EventLog log(pool, keys, dir);
    if (!log.Open().ok()) return 1;
    const double c0 = Now();
    auto n = log.Sync();
    const double secs = Now() - c0;
    std::filesystem::remove_all(dir);
    if (!n.ok() || *n != static_cast<int64_t>(rows->size())) {
      std::cerr << "recstack-bench-ingest: consuming the stream failed: "
                << (n.ok() ? std::to_string(*n) + " events" : std::string(n.status().message()))
                << "\n";
      return 1;
    }
    consume_eps = *n / secs;
  }
  const double eps = Median(service_eps), floor = Median(floor_eps);
  nlohmann::json j = {
      {"events", rows->size()},
      {"accepted", accepted},
      {"batch", batch},
      {"events_per_second", eps},
      {"redis_floor_events_per_second", floor},
      {"floor", "EventStore::Write (the service's Lua script, pipelined per batch)"},
      {"ratio", eps / floor},
      {"training_consume_events_per_second", consume_eps},
      {"consume_over_ingest", consume_eps / eps},
      {"redis", masters > 0 ? "cluster" : "single"},
      {"masters", std::max(masters, 1)},
      {"replicas_per_master", masters > 0 ? cluster_replicas : 0},
      {"event_partitions", keys.partitions()},
      {"events_per_second_per_master", eps / std::max(masters, 1)}};
  std::cout << j.dump(json ? -1 : 2) << "\n";
  return 0;
}
