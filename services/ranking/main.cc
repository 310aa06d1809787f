// recstack-ranking: feature assembly, plug-in rankers and experiments (DESIGN §6).
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/config/config.h"
#include "common/grpc/service_main.h"
#include "common/log/log.h"
#include "common/math/blas_core.h"
#include "services/ranking/ranking_service.h"
#include "services/ranking/redis_feature_source.h"

int main(int argc, char** argv) {
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  using namespace recstack;
  grpcutil::BlockShutdownSignals();
  CLI::App app{
      "recstack-ranking: scores retrieval's candidates with plug-in rankers and experiments"};
  config::ServiceConfig cfg{.service = "ranking"};
  config::AddServiceFlags(app, &cfg);
  std::string experiments_file, default_ranker = "linear";
  double mmr_lambda = 0.7;
  app.add_option("--experiments", experiments_file,
                 "experiments JSON (see common/rank/experiments.h)")
      ->envname(config::EnvName("experiments"));
  app.add_option("--default-ranker", default_ranker, "ranker when no experiments file is given")
      ->envname(config::EnvName("default-ranker"))
      ->capture_default_str();
  app.add_option("--mmr-lambda", mmr_lambda, "relevance weight of the MMR stage (0-1)")
      ->capture_default_str();
  if (int code = config::ParseOrExit(app, argc, argv); code >= 0) return code;
  absl::Status st = config::Validate(cfg);
  if (!st.ok()) return grpcutil::Fail("ranking", st, 2);
  log::Init("ranking", cfg.log_level);
  auto redis_opts = redis::ParseUrl(cfg.redis_url);
  redis::Options load_opts = *redis_opts;
  load_opts.command_timeout = std::chrono::milliseconds(30000);
  redis::Pool pool(*redis_opts, cfg.redis_pool_size);
  redis::Pool load_pool(load_opts, 2);
  redis::Keyspace keys = config::KeyspaceFor(cfg);
  model::ModelStore load_store(load_pool, keys);
  // The learned rankers' models, loaded before the experiments are checked
  // (an experiment may only name a ranker that can serve).
  ranking::RankerModels ranker_models(load_store, *redis_opts, keys);
  ranker_models.Start();
  auto registry_r = ranking::RankerRegistry::WithBuiltins();
  ranking::RegisterLearned(registry_r, ranker_models);
  std::vector<ranking::Experiment> experiments;
  if (st.ok() && !experiments_file.empty()) {
    std::ifstream in(experiments_file);
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = ranking::ParseExperiments(ss.str(), ranking::RegistryCheck(registry_r));
    if (!in) st = absl::InvalidArgumentError("--experiments: cannot read " + experiments_file);
    else if (!parsed.ok())
      st = absl::InvalidArgumentError("--experiments: " + std::string(parsed.status().message()));
    else experiments = *parsed;
  } else if (st.ok()) {
    if (!registry_r.Has(ranking::SplitMmr(default_ranker).first)) {
      st = absl::InvalidArgumentError(
          "--default-ranker: unknown ranker (known: " + registry_r.KnownNames() + ")");
    }
    experiments = ranking::DefaultExperiments(default_ranker);
  }
  if (st.ok() && !(mmr_lambda >= 0 && mmr_lambda <= 1))
    st = absl::InvalidArgumentError("--mmr-lambda: must be 0-1");
  if (!st.ok()) return grpcutil::Fail("ranking", st, 2);
  // Item vectors for MMR.
  auto holder = model::MakeItemVectorsHolder(load_store, *redis_opts, keys);
  SystemClock clock;
  ranking::RedisFeatureSource feature_source(pool, keys);
  ranking::FeatureAssembler features(feature_source, clock);
  ranking::RankingEngine engine(features, registry_r, experiments, holder.get(), mmr_lambda);
  auto registry = std::make_shared<prometheus::Registry>();
  ranking::RankingMetrics metrics(*registry, experiments);
  auto limiter = grpcutil::MakeLimiter(cfg, *registry);
  ranking::RankingServiceImpl service(engine, metrics, limiter.get());
  holder->Start();
  const int code =
      grpcutil::Serve(cfg, registry, {.services = {&service}, .readiness_redis = *redis_opts});
  holder->Stop();
  ranker_models.Stop();
  return code;
}
