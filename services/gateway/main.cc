// recstack-gateway: the public API, gRPC and HTTP/JSON (DESIGN §7).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "common/clock/clock.h"
#include "common/config/config.h"
#include "common/grpc/channel.h"
#include "common/grpc/service_main.h"
#include "common/grpc/tls.h"
#include "common/log/log.h"
#include "common/math/blas.h"
#include "common/math/blas_core.h"
#include "common/ranking/node.h"
#include "common/retrieval/node.h"
#include "services/gateway/gateway.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/http_server.h"
#include "services/gateway/local_backends.h"

int main(int argc, char** argv) {
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  using namespace recstack;
  grpcutil::BlockShutdownSignals();
  CLI::App app{
      "recstack-gateway: Recommend (retrieval then ranking, with fallbacks), events, similar "
      "items"};
  // A Recommend spans retrieval and ranking: its latency target is the SLO's.
  config::ServiceConfig cfg{.service = "gateway", .latency_target_ms = 50};
  config::AddServiceFlags(app, &cfg);
  std::string http_listen = "127.0.0.1:" + std::to_string(config::kGatewayHttpPort),
              retrieval_addr = config::DefaultAddress("retrieval"),
              ranking_addr = config::DefaultAddress("ranking"),
              ingestion_addr = config::DefaultAddress("ingestion"),
              training_addr = config::DefaultAddress("training");
  gateway::GatewayOptions g;
  int64_t retrieval_ms = g.retrieval_budget.count(), ranking_ms = g.ranking_budget.count(),
          total_ms = g.total_budget.count();
  std::string api_keys_file;
  app.add_option("--api-keys", api_keys_file,
                 "JSON file of API keys with their rates (services/gateway/api_keys.h); every "
                 "gRPC call and /v1/ HTTP path then needs one. Read again within 1 s of a change "
                 "(rotation without restart). Empty: the API is open")
      ->envname(config::EnvName("api-keys"));
  app.add_option("--http-listen", http_listen, "HTTP/JSON address HOST:PORT")
      ->envname(config::EnvName("http-listen"))
      ->capture_default_str();
  // Each address is a gRPC target: calls go round-robin over every address
  // it resolves to (replicas), see config::ValidateTarget.
  constexpr char kTargets[] =
      ": HOST:PORT, dns:///HOST:PORT (every address the name resolves to, e.g. a headless "
      "Service) or ipv4:IP:PORT,IP:PORT,... (replicas); calls go round-robin over them";
  config::AddAddressFlag(app, "retrieval-addr", &retrieval_addr,
                         absl::StrCat("retrieval service", kTargets));
  config::AddAddressFlag(app, "ranking-addr", &ranking_addr,
                         absl::StrCat("ranking service", kTargets));
  config::AddAddressFlag(app, "ingestion-addr", &ingestion_addr,
                         absl::StrCat("ingestion service", kTargets));
  config::AddAddressFlag(
      app, "training-addr", &training_addr,
      absl::StrCat("training service (experiment readouts for /experiments)", kTargets));
  app.add_option("--retrieval-budget-ms", retrieval_ms, "deadline of the retrieval stage")
      ->capture_default_str();
  app.add_option("--ranking-budget-ms", ranking_ms, "deadline of the ranking stage")
      ->capture_default_str();
  app.add_option("--total-budget-ms", total_ms, "deadline of the whole Recommend call")
      ->capture_default_str();
  app.add_option("--min-candidates", g.min_candidates,
                 "candidates asked of retrieval: clamp(5 x k, this, --max-candidates)")
      ->envname(config::EnvName("min-candidates"))
      ->capture_default_str();
  app.add_option("--max-candidates", g.max_candidates, "the most candidates asked of retrieval")
      ->envname(config::EnvName("max-candidates"))
      ->capture_default_str();
  app.add_flag("--log-impressions,!--no-log-impressions", g.log_impressions,
               "send IMPRESSION events to ingestion");
  app.add_option("--explore-rate", g.explore_rate,
                 "share of ranked answers shown in a random order, their propensities logged "
                 "(0-1; off-policy estimates need it > 0)")
      ->envname(config::EnvName("explore-rate"))
      ->capture_default_str();
  // Retrieval and ranking in this process instead of over gRPC (their flags
  // then apply here; --retrieval-addr/--ranking-addr are not used).
  std::string embed;
  app.add_option("--embed", embed,
                 "services served in this process instead of over gRPC: retrieval, ranking or "
                 "retrieval,ranking (their nodes on --redis-url; the matching --*-addr is then "
                 "unused)")
      ->envname(config::EnvName("embed"));
  retrieval::NodeOptions retrieval_opts;
  retrieval::AddFlags(*app.add_option_group("embedded retrieval", "with --embed retrieval"),
                      &retrieval_opts);
  ranking::NodeOptions ranking_opts;
  ranking::AddFlags(*app.add_option_group("embedded ranking", "with --embed ranking"),
                    &ranking_opts);
  if (int code = config::ParseOrExit(app, argc, argv); code >= 0) return code;
  absl::Status st = config::Validate(cfg);
  bool embed_retrieval = false, embed_ranking = false;
  for (absl::string_view part : absl::StrSplit(embed, ',', absl::SkipEmpty())) {
    if (part == "retrieval") embed_retrieval = true;
    else if (part == "ranking") embed_ranking = true;
    else if (st.ok())
      st = absl::InvalidArgumentError(absl::StrCat("--embed: unknown service '", part,
                                                   "' (retrieval, ranking or retrieval,ranking)"));
  }
  if (st.ok()) st = config::ValidateAddress("http-listen", http_listen);
  for (auto [flag, addr] :
       {std::pair{"retrieval-addr", &retrieval_addr}, std::pair{"ranking-addr", &ranking_addr},
        std::pair{"ingestion-addr", &ingestion_addr}, std::pair{"training-addr", &training_addr}}) {
    if (st.ok()) st = config::ValidateTarget(flag, *addr);
  }
  if (st.ok() && !(g.explore_rate >= 0 && g.explore_rate <= 1))
    st = absl::InvalidArgumentError("--explore-rate: must be 0-1");
  if (st.ok() && !(g.min_candidates >= 1 && g.min_candidates <= g.max_candidates &&
                   g.max_candidates <= 1000)) {
    st = absl::InvalidArgumentError(
        "--min-candidates and --max-candidates: need 1 <= min <= max <= 1000 (retrieval's largest "
        "k)");
  }
  if (st.ok() && embed_retrieval) st = retrieval::Validate(retrieval_opts);
  if (st.ok() && (retrieval_ms < 1 || ranking_ms < 1 || total_ms < 1))
    st = absl::InvalidArgumentError("budgets must be >= 1 ms");
  if (!st.ok()) return grpcutil::Fail("gateway", st, 2);
  g.retrieval_budget = std::chrono::milliseconds(retrieval_ms);
  g.ranking_budget = std::chrono::milliseconds(ranking_ms);
  g.total_budget = std::chrono::milliseconds(total_ms);
  log::Init("gateway", cfg.log_level);
  auto registry = std::make_shared<prometheus::Registry>();
  SystemClock clock;
  std::unique_ptr<gateway::ApiKeys> keys;
  if (!api_keys_file.empty()) {
    keys = std::make_unique<gateway::ApiKeys>(api_keys_file, clock, registry.get());
    if (absl::Status s = keys->Load(); !s.ok()) return grpcutil::Fail("gateway", s, 2);
    keys->StartWatching(std::chrono::seconds(1));
  }
  gateway::GatewayMetrics metrics(*registry);
  auto limiter = grpcutil::MakeLimiter(cfg, *registry);
  // With --tls-*: TLS to every peer, this gateway's certificate as the client one.
  auto peer_credentials = grpcutil::MakeChannelCredentials(cfg.tls);
  if (!peer_credentials.ok()) return grpcutil::Fail("gateway", peer_credentials.status(), 2);
  auto dial = [&](const std::string& target) {
    return grpcutil::MakeChannel(target, *peer_credentials);
  };
  // The embedded nodes share the gateway's Redis flags and metrics registry.
  auto redis_opts = redis::ParseUrl(cfg.redis_url);
  std::unique_ptr<retrieval::Node> retrieval_node;
  std::unique_ptr<ranking::Node> ranking_node;
  std::unique_ptr<gateway::RetrievalBackend> retrieval;
  std::unique_ptr<gateway::RankingBackend> ranking;
  if (embed_retrieval) {
    // Each request is one thread's work (as in recstack-retrieval).
    math::SetBlasThreads(1);
    retrieval_node = std::make_unique<retrieval::Node>(
        *redis_opts, cfg.redis_pool_size, config::KeyspaceFor(cfg), retrieval_opts, *registry);
    retrieval = std::make_unique<gateway::LocalRetrievalBackend>(retrieval_node->handler());
  } else {
    retrieval = std::make_unique<gateway::GrpcRetrievalBackend>(dial(retrieval_addr));
  }
  if (embed_ranking) {
    auto node = ranking::Node::Create(*redis_opts, cfg.redis_pool_size, config::KeyspaceFor(cfg),
                                      ranking_opts, *registry);
    if (!node.ok()) return grpcutil::Fail("gateway", node.status(), 2);
    ranking_node = *std::move(node);
    ranking = std::make_unique<gateway::LocalRankingBackend>(ranking_node->handler());
  } else {
    ranking = std::make_unique<gateway::GrpcRankingBackend>(dial(ranking_addr));
  }
  if (retrieval_node) retrieval_node->Start();
  if (ranking_node) ranking_node->Start();
  gateway::Gateway gw(std::move(retrieval), std::move(ranking),
                      std::make_unique<gateway::GrpcIngestionBackend>(dial(ingestion_addr)),
                      std::make_unique<gateway::GrpcTrainingBackend>(dial(training_addr)), g,
                      metrics, limiter.get());
  if (absl::Status s = gw.StartFallbackRefresh(); !s.ok()) {
    log::Warn("no fallback list yet (filled by a later refresh)", {{"error", s.message()}});
  }
  gateway::GatewayServiceImpl service(gw, keys.get());
  std::unique_ptr<gateway::HttpServer> http;
  const int code = grpcutil::Serve(
      cfg, registry,
      {.services = {&service},
       // Embedded retrieval or ranking need Redis to serve.
       .readiness_redis = embed_retrieval || embed_ranking
                              ? std::optional<redis::Options>(*redis_opts)
                              : std::nullopt,
       .on_started =
           [&](grpcutil::ServerRunner& server) {
             http = std::make_unique<gateway::HttpServer>(
                 gw, [&server] { return server.serving(); }, keys.get());
             // HTTPS with the gRPC certificate.
             return http->Start(http_listen, {.cert = cfg.tls.cert, .key = cfg.tls.key});
           },
       .on_stopped =
           [&] {
             if (http) http->Stop();
           },
       .started_fields = {{"http", http_listen},
                          {"https", !cfg.tls.cert.empty()},
                          {"api_keys", api_keys_file},
                          {"retrieval", embed_retrieval ? "embedded" : retrieval_addr},
                          {"ranking", embed_ranking ? "embedded" : ranking_addr},
                          {"ingestion", ingestion_addr},
                          {"training", training_addr}}});
  if (ranking_node) ranking_node->Stop();
  if (retrieval_node) retrieval_node->Stop();
  return code;
}
