// recstack-retrieval: candidates from the current model's factors, item
// neighbours and trends (DESIGN §5).
#include <iostream>

#include "common/config/config.h"
#include "common/grpc/service_main.h"
#include "common/log/log.h"
#include "common/math/blas.h"
#include "common/math/blas_core.h"
#include "services/retrieval/ease_source.h"
#include "services/retrieval/retrieval_service.h"

int main(int argc, char** argv) {
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  using namespace recstack;
  grpcutil::BlockShutdownSignals();
  // Each request is one thread's work; a BLAS thread pool per call would
  // only fight the gRPC threads for the cores.
  math::SetBlasThreads(1);
  CLI::App app{"recstack-retrieval: candidate generation from factors, neighbours and trends"};
  config::ServiceConfig cfg{.service = "retrieval"};
  config::AddServiceFlags(app, &cfg);
  retrieval::HolderOptions hold;
  retrieval::RetrieverOptions ropts;
  int64_t cache_size = static_cast<int64_t>(ropts.user_cache_size);
  app.add_option("--hnsw-min-items", hold.hnsw_min_items, "catalogues this large get an HNSW index")
      ->envname(config::EnvName("hnsw-min-items"))
      ->capture_default_str();
  app.add_option("--hnsw-m", hold.hnsw.m, "HNSW M")->capture_default_str();
  app.add_option("--hnsw-ef-construction", hold.hnsw.ef_construction, "HNSW efConstruction")
      ->capture_default_str();
  app.add_option("--hnsw-target-recall", hold.hnsw_target_recall,
                 "ef is raised until recall@10 reaches this")
      ->capture_default_str();
  app.add_flag("--exact-int8", hold.exact_int8,
               "exact search through an int8 copy of the factors (same results, 0.28x more memory "
               "at d=64)")
      ->envname(config::EnvName("exact-int8"));
  app.add_option("--user-cache-size", cache_size, "user vectors cached")->capture_default_str();
  app.add_option("--mf-share", ropts.mf_share, "quota of mf candidates")->capture_default_str();
  app.add_option("--item2item-share", ropts.item2item_share, "quota of item2item candidates")
      ->capture_default_str();
  app.add_option("--trending-share", ropts.trending_share, "quota of trending candidates")
      ->capture_default_str();
  app.add_option("--ease-share", ropts.ease_share, "quota of ease (item-item EASE) candidates")
      ->envname(config::EnvName("ease-share"))
      ->capture_default_str();
  app.add_option("--ease-history", ropts.ease_history,
                 "most recent history items the ease source sums")
      ->capture_default_str();
  if (int code = config::ParseOrExit(app, argc, argv); code >= 0) return code;
  absl::Status st = config::Validate(cfg);
  if (st.ok() && (hold.hnsw_min_items < 1 || hold.hnsw.m < 4 || hold.hnsw.ef_construction < 8 ||
                  cache_size < 1 || ropts.ease_history < 1 || ropts.ease_share < 0 ||
                  !(hold.hnsw_target_recall > 0 && hold.hnsw_target_recall <= 1))) {
    st = absl::InvalidArgumentError(
        "--hnsw-min-items >= 1, --hnsw-m >= 4, --hnsw-ef-construction >= 8, "
        "--user-cache-size >= 1, 0 < --hnsw-target-recall <= 1, --ease-history >= 1, "
        "--ease-share >= 0");
  }
  if (!st.ok()) return grpcutil::Fail("retrieval", st, 2);
  ropts.user_cache_size = static_cast<size_t>(cache_size);
  log::Init("retrieval", cfg.log_level);
  auto redis_opts = redis::ParseUrl(cfg.redis_url);
  redis::Options load_opts = *redis_opts;
  load_opts.command_timeout = std::chrono::milliseconds(30000);  // model loads move large values
  redis::Pool pool(*redis_opts, cfg.redis_pool_size);
  redis::Pool load_pool(load_opts, 2);
  redis::Keyspace keys = config::KeyspaceFor(cfg);
  model::ModelStore store(pool, keys);
  model::ModelStore load_store(load_pool, keys);
  SystemClock clock;
  auto registry = std::make_shared<prometheus::Registry>();
  retrieval::RetrievalMetrics metrics(*registry);
  retrieval::ModelHolder holder(load_store, *redis_opts, keys, hold);
  holder.set_listener([&metrics](const retrieval::ServingModel& m) { metrics.OnModel(m); });
  retrieval::EaseModelHolder ease(load_store, *redis_opts, keys);
  retrieval::RedisRetrievalSource source(pool, store, keys);
  retrieval::Retriever retriever(holder, source, clock, ropts);
  retriever.set_ease(&ease);
  auto limiter = grpcutil::MakeLimiter(cfg, *registry);
  retrieval::RetrievalServiceImpl service(retriever, metrics, limiter.get());
  holder.Start();
  retriever.Start();
  ease.Start();
  const int code =
      grpcutil::Serve(cfg, registry, {.services = {&service}, .readiness_redis = *redis_opts});
  retriever.Stop();
  ease.Stop();
  holder.Stop();
  return code;
}
