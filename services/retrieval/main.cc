// recstack-retrieval: candidates from the current model's factors, item
// neighbours and trends (DESIGN §5).
#include <iostream>

#include "common/config/config.h"
#include "common/grpc/service_main.h"
#include "common/log/log.h"
#include "common/math/blas.h"
#include "common/math/blas_core.h"
#include "common/retrieval/node.h"
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
  retrieval::NodeOptions node_opts;
  retrieval::AddFlags(app, &node_opts);
  if (int code = config::ParseOrExit(app, argc, argv); code >= 0) return code;
  absl::Status st = config::Validate(cfg);
  if (st.ok()) st = retrieval::Validate(node_opts);
  if (!st.ok()) return grpcutil::Fail("retrieval", st, 2);
  log::Init("retrieval", cfg.log_level);
  auto redis_opts = redis::ParseUrl(cfg.redis_url);
  auto registry = std::make_shared<prometheus::Registry>();
  retrieval::Node node(*redis_opts, cfg.redis_pool_size, config::KeyspaceFor(cfg), node_opts,
                       *registry);
  auto limiter = grpcutil::MakeLimiter(cfg, *registry);
  retrieval::RetrievalServiceImpl service(node.handler(), limiter.get());
  node.Start();
  const int code =
      grpcutil::Serve(cfg, registry, {.services = {&service}, .readiness_redis = *redis_opts});
  node.Stop();
  return code;
}
