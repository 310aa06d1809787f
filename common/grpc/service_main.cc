#include "common/grpc/service_main.h"

#include <chrono>
#include <iostream>
#include <string>

#include "common/log/log.h"

namespace recstack::grpcutil {

int Fail(std::string_view service, const absl::Status& status, int exit_code) {
  std::cerr << "recstack-" << service << ": " << status.message() << "\n";
  return exit_code;
}

ServerOptions ServerOptionsFor(const config::ServiceConfig& cfg) {
  ServerOptions o;
  o.listen = cfg.listen;
  o.metrics_listen = cfg.metrics_listen;
  o.drain_timeout = std::chrono::milliseconds(static_cast<int64_t>(cfg.drain_seconds * 1000));
  o.max_connection_age =
      std::chrono::milliseconds(static_cast<int64_t>(cfg.max_connection_age_seconds * 1000));
  o.tls = cfg.tls;
  return o;
}

std::unique_ptr<overload::ConcurrencyLimiter> MakeLimiter(const config::ServiceConfig& cfg,
                                                          prometheus::Registry& registry) {
  return std::make_unique<overload::ConcurrencyLimiter>(
      cfg.service, overload::LimiterOptionsFor(cfg.max_inflight, cfg.latency_target_ms), &registry);
}

int Serve(const config::ServiceConfig& cfg, std::shared_ptr<prometheus::Registry> registry,
          ServeSpec spec) {
  ServerRunner server(ServerOptionsFor(cfg), std::move(registry));
  for (grpc::Service* s : spec.services) server.AddService(s);
  std::unique_ptr<redis::Pool> probe_pool;
  if (spec.readiness_redis.has_value()) {
    probe_pool = std::make_unique<redis::Pool>(*spec.readiness_redis, 1);
    server.SetReadinessProbe([p = probe_pool.get()] { return p->Ping(); },
                             std::chrono::milliseconds(1000));
  }
  if (absl::Status st = server.Start(); !st.ok()) return Fail(cfg.service, st, 1);
  if (spec.on_started) {
    if (absl::Status st = spec.on_started(server); !st.ok()) {
      server.Shutdown();
      if (spec.on_stopped) spec.on_stopped();
      return Fail(cfg.service, st, 1);
    }
  }
  if (spec.readiness_redis.has_value())
    spec.started_fields["redis"] = redis::ToUrl(*spec.readiness_redis);
  log::Info(cfg.service + " started", spec.started_fields);
  server.Wait();
  if (spec.on_stopped) spec.on_stopped();
  return 0;
}

}  // namespace recstack::grpcutil
