// recstack-ingestion: the event API (DESIGN §1-§3).
#include <iostream>

#include "common/config/config.h"
#include "common/grpc/server.h"
#include "common/log/log.h"
#include "common/redis/client.h"
#include "services/ingestion/ingestion_service.h"

int main(int argc, char** argv) {
  using namespace recstack;
  grpcutil::BlockShutdownSignals();
  CLI::App app{"recstack-ingestion: validates events, deduplicates them and appends them to Redis"};
  config::ServiceConfig cfg{.service = "ingestion"};
  config::AddServiceFlags(app, &cfg);
  ingestion::StoreOptions store_opts;
  ingestion::ValidationLimits limits;
  app.add_option("--stream-maxlen", store_opts.stream_maxlen, "approximate cap of rs:events")
      ->envname(config::EnvName("stream-maxlen"))->capture_default_str();
  app.add_option("--history-cap", store_opts.history_cap, "items kept per user history")
      ->envname(config::EnvName("history-cap"))->capture_default_str();
  app.add_option("--dedup-ttl-seconds", store_opts.dedup_ttl_s, "idempotency window")
      ->envname(config::EnvName("dedup-ttl-seconds"))->capture_default_str();
  app.add_option("--min-rating", limits.min_rating, "lowest valid RATING")->capture_default_str();
  app.add_option("--max-rating", limits.max_rating, "highest valid RATING")->capture_default_str();
  if (int code = config::ParseOrExit(app, argc, argv); code >= 0) return code;
  if (absl::Status st = config::Validate(cfg); !st.ok()) {
    std::cerr << "recstack-ingestion: " << st.message() << "\n";
    return 2;
  }
  if (store_opts.stream_maxlen < 1000 || store_opts.history_cap < 1 || store_opts.dedup_ttl_s < 60 ||
      !(limits.min_rating < limits.max_rating)) {
    std::cerr << "recstack-ingestion: --stream-maxlen >= 1000, --history-cap >= 1, --dedup-ttl-seconds >= 60 "
                 "and --min-rating < --max-rating\n";
    return 2;
  }
  log::Init("ingestion", cfg.log_level);
  auto redis_opts = redis::ParseUrl(cfg.redis_url);
  redis::Pool pool(*redis_opts, cfg.redis_pool_size);
  SystemClock clock;
  ingestion::EventStore store(pool, redis::Keyspace(cfg.key_prefix), store_opts, clock);
  auto registry = std::make_shared<prometheus::Registry>();
  ingestion::IngestionServiceImpl service(store, clock, limits, *registry);
  grpcutil::ServerRunner runner(
      {.listen = cfg.listen,
       .metrics_listen = cfg.metrics_listen,
       .drain_timeout = std::chrono::milliseconds(static_cast<int64_t>(cfg.drain_seconds * 1000))},
      registry);
  runner.AddService(&service);
  runner.SetReadinessProbe([&pool] { return pool.Ping(); }, std::chrono::milliseconds(1000));
  if (absl::Status st = runner.Start(); !st.ok()) {
    std::cerr << "recstack-ingestion: " << st.message() << "\n";
    return 1;
  }
  log::Info("ingestion started", {{"redis", redis::ToUrl(*redis_opts)}});
  runner.Wait();
  return 0;
}
