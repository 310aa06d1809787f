// recstack-ranking: feature assembly, plug-in rankers and experiments (DESIGN §6).
#include <iostream>

#include "common/config/config.h"
#include "common/grpc/service_main.h"
#include "common/log/log.h"
#include "common/math/blas_core.h"
#include "common/ranking/node.h"
#include "services/ranking/ranking_service.h"

int main(int argc, char** argv) {
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  using namespace recstack;
  grpcutil::BlockShutdownSignals();
  CLI::App app{
      "recstack-ranking: scores retrieval's candidates with plug-in rankers and experiments"};
  config::ServiceConfig cfg{.service = "ranking"};
  config::AddServiceFlags(app, &cfg);
  ranking::NodeOptions node_opts;
  ranking::AddFlags(app, &node_opts);
  if (int code = config::ParseOrExit(app, argc, argv); code >= 0) return code;
  absl::Status st = config::Validate(cfg);
  if (!st.ok()) return grpcutil::Fail("ranking", st, 2);
  log::Init("ranking", cfg.log_level);
  auto redis_opts = redis::ParseUrl(cfg.redis_url);
  auto registry = std::make_shared<prometheus::Registry>();
  auto node = ranking::Node::Create(*redis_opts, cfg.redis_pool_size, config::KeyspaceFor(cfg),
                                    node_opts, *registry);
  if (!node.ok()) return grpcutil::Fail("ranking", node.status(), 2);
  auto limiter = grpcutil::MakeLimiter(cfg, *registry);
  ranking::RankingServiceImpl service((*node)->handler(), limiter.get());
  (*node)->Start();
  const int code =
      grpcutil::Serve(cfg, registry, {.services = {&service}, .readiness_redis = *redis_opts});
  (*node)->Stop();
  return code;
}
