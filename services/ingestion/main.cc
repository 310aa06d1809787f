// recstack-ingestion: the event API (DESIGN §1-§3).
#include <iostream>

#include "common/config/config.h"
#include "common/grpc/service_main.h"
#include "common/log/log.h"
#include "common/redis/client.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/redis_event_storage.h"

int main(int argc, char** argv) {
  using namespace recstack;
  grpcutil::BlockShutdownSignals();
  CLI::App app{"recstack-ingestion: validates events, deduplicates them and appends them to Redis"};
  // events::Event batches (up to 10,000 events) take longer than reads: a latency
  // target of reads would shed them.
  config::ServiceConfig cfg{.service = "ingestion", .latency_target_ms = 250};
  config::AddServiceFlags(app, &cfg);
  ingestion::StoreOptions store_opts;
  events::ValidationLimits limits;
  app.add_option("--stream-maxlen", store_opts.stream_maxlen, "approximate cap of rs:events")
      ->envname(config::EnvName("stream-maxlen"))
      ->capture_default_str();
  app.add_option("--history-cap", store_opts.history_cap, "items kept per user history")
      ->envname(config::EnvName("history-cap"))
      ->capture_default_str();
  app.add_option("--dedup-ttl-seconds", store_opts.dedup_ttl_s, "idempotency window")
      ->envname(config::EnvName("dedup-ttl-seconds"))
      ->capture_default_str();
  double half_life_hours = store_opts.trending_half_life_ms / 3.6e6;
  app.add_option(
         "--trending-half-life-hours", half_life_hours,
         "half-life of the decayed trending counts (fixed by the first event in an empty Redis)")
      ->envname(config::EnvName("trending-half-life-hours"))
      ->capture_default_str();
  app.add_option("--redis-wait-replicas", store_opts.wait_replicas,
                 "acknowledge events only once this many Redis replicas have them (WAIT): a "
                 "failover then loses no acknowledged event (0-5)")
      ->envname(config::EnvName("redis-wait-replicas"))
      ->capture_default_str();
  app.add_option("--min-rating", limits.min_rating, "lowest valid RATING")->capture_default_str();
  app.add_option("--max-rating", limits.max_rating, "highest valid RATING")->capture_default_str();
  if (int code = config::ParseOrExit(app, argc, argv); code >= 0) return code;
  if (absl::Status st = config::Validate(cfg); !st.ok()) return grpcutil::Fail("ingestion", st, 2);
  if (store_opts.stream_maxlen < 1000 || store_opts.history_cap < 1 ||
      store_opts.dedup_ttl_s < 60 || !(limits.min_rating < limits.max_rating) ||
      store_opts.wait_replicas < 0 || store_opts.wait_replicas > 5 ||
      !(half_life_hours >= 0.01 && half_life_hours <= 24 * 365)) {
    std::cerr << "recstack-ingestion: --stream-maxlen >= 1000, --history-cap >= 1, "
                 "--dedup-ttl-seconds >= 60, --redis-wait-replicas 0-5, "
                 "--min-rating < --max-rating and --trending-half-life-hours 0.01-8760\n";
    return 2;
  }
  store_opts.trending_half_life_ms = static_cast<int64_t>(half_life_hours * 3.6e6);
  log::Init("ingestion", cfg.log_level);
  auto redis_opts = redis::ParseUrl(cfg.redis_url);
  redis::Pool pool(*redis_opts, cfg.redis_pool_size);
  SystemClock clock;
  ingestion::RedisEventStorage storage(pool, config::KeyspaceFor(cfg));
  ingestion::EventStore store(storage, store_opts, clock);
  auto registry = std::make_shared<prometheus::Registry>();
  auto limiter = grpcutil::MakeLimiter(cfg, *registry);
  ingestion::IngestionServiceImpl service(store, clock, limits, *registry, limiter.get());
  return grpcutil::Serve(cfg, registry, {.services = {&service}, .readiness_redis = *redis_opts});
}
