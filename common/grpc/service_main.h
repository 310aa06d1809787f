#pragma once

// The start-up every service main shares, after it has parsed its flags and
// built its core: the gRPC server on the configured addresses, its
// Prometheus endpoint, a readiness probe on Redis, graceful shutdown on
// SIGTERM/SIGINT, and the exit code. A main then reads as: flags, core,
// Serve.

#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "common/config/config.h"
#include "common/grpc/server.h"
#include "common/overload/limiter.h"
#include "common/redis/client.h"

namespace recstack::grpcutil {

// Prints "recstack-<service>: <message>" to stderr and returns `exit_code`.
int Fail(std::string_view service, const absl::Status& status, int exit_code);

// The server options a service's flags describe.
ServerOptions ServerOptionsFor(const config::ServiceConfig& cfg);

// The admission limiter a service's flags describe (--max-inflight,
// --latency-target-ms), its metrics in `registry`.
std::unique_ptr<overload::ConcurrencyLimiter> MakeLimiter(const config::ServiceConfig& cfg,
                                                          prometheus::Registry& registry);

struct ServeSpec {
  std::vector<grpc::Service*> services;
  // Readiness asks this Redis on a connection of its own (a pool busy with
  // requests is load, not an outage); nullopt: always ready.
  std::optional<redis::Options> readiness_redis;
  // Called once the server listens (e.g. to start an HTTP server); an
  // error shuts the server down and the process exits 1.
  std::function<absl::Status(ServerRunner&)> on_started;
  // Called once the server has drained, before it is destroyed (e.g. to
  // stop that HTTP server).
  std::function<void()> on_stopped;
  // Fields of the "<service> started" log line.
  nlohmann::json started_fields = nlohmann::json::object();
};

// Serves until SIGTERM/SIGINT, then shuts down gracefully. Returns the
// process exit code: 0, or 1 when the server could not start.
int Serve(const config::ServiceConfig& cfg, std::shared_ptr<prometheus::Registry> registry,
          ServeSpec spec);

}  // namespace recstack::grpcutil
