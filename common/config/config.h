#pragma once

// Typed service configuration: flags, each with a RECSTACK_* environment
// fallback (DESIGN §1), and validation whose messages name the flag.
// Precedence: command-line flag > environment variable > default.

#include <CLI/CLI.hpp>
#include <chrono>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config/ports.h"
#include "common/config/tls.h"
#include "common/redis/keyspace.h"

namespace recstack::config {

struct ServiceConfig {
  std::string service;         // "ingestion", "training", ...
  std::string listen;          // gRPC HOST:PORT (port 0 picks a free one)
  std::string metrics_listen;  // Prometheus HOST:PORT; "" or "off" disables
  std::string redis_url = "redis://127.0.0.1:6379";
  std::string key_prefix = "rs:";
  // Event log partitions (common/redis/keyspace.h); 0: 1 on a single Redis,
  // 16 on a cluster. Every service of a stack must agree.
  int event_partitions = 0;
  std::string log_level = "info";
  double drain_seconds = 5;  // graceful-shutdown deadline after SIGTERM
  int redis_pool_size = 8;
  // Admission control (common/overload/limiter.h): the adaptive in-flight
  // limit starts at min(16, max_inflight) and stays within [min(4, max_inflight), max_inflight];
  // requests slower than latency_target_ms lower it.
  int max_inflight = 64;
  double latency_target_ms = 25;
  // 0: connections live as long as the client keeps them. Otherwise the
  // server asks a client to reconnect (GOAWAY; calls in flight finish) after
  // about this long, so clients re-resolve a name like dns:///retrieval:50053
  // and spread over replicas added since they connected.
  double max_connection_age_seconds = 0;
  // Empty: plaintext. With a certificate the server speaks only TLS (mutual
  // with a CA), and the service dials its peers over TLS with the same files.
  TlsConfig tls = {};
};

// Adds --listen, --metrics-listen, --redis-url, --key-prefix, --log-level,
// --drain-seconds, --redis-pool-size and --event-partitions with env fallbacks RECSTACK_LISTEN,
// RECSTACK_METRICS_LISTEN, RECSTACK_REDIS_URL, RECSTACK_KEY_PREFIX,
// RECSTACK_LOG_LEVEL, RECSTACK_DRAIN_SECONDS, RECSTACK_REDIS_POOL_SIZE; and
// --max-inflight, --latency-target-ms, --max-connection-age-seconds
// (RECSTACK_MAX_INFLIGHT, ...); and the TLS flags (AddTlsFlags).
// Fills defaults for `config->service` first.
void AddServiceFlags(CLI::App& app, ServiceConfig* config);

// Adds --<name> (e.g. "retrieval-addr") with env RECSTACK_<NAME> (dashes to
// underscores, upper case). The value is a gRPC target (ValidateTarget).
void AddAddressFlag(CLI::App& app, const std::string& name, std::string* value,
                    const std::string& help);

// The environment variable a flag falls back to: "redis-url" -> "RECSTACK_REDIS_URL".
std::string EnvName(std::string_view flag);

absl::Status Validate(const ServiceConfig& config);
// The keyspace the config names: prefix, partitions, tags on a cluster.
// Call after Validate.
redis::Keyspace KeyspaceFor(const ServiceConfig& config);
// "--listen: 'foo' is not HOST:PORT" style errors.
absl::Status ValidateAddress(std::string_view flag, std::string_view host_port,
                             bool allow_port_zero = true);

// What a client may dial (grpcutil::MakeChannel spreads calls round-robin
// over every address it resolves to):
//   HOST:PORT, dns:///HOST:PORT   every address the name resolves to
//                                 (dns://DNS-SERVER/HOST:PORT asks that server)
//   ipv4:IP:PORT[,IP:PORT...]     a fixed list of IPv4 addresses
//   ipv6:[IP]:PORT[,[IP]:PORT...] the same for IPv6
//   unix:PATH                     a Unix socket
// The port is required (1-65535). Errors name the flag:
// "--retrieval-addr: 'ipv4:127.0.0.1' ...".
absl::Status ValidateTarget(std::string_view flag, std::string_view target);

// "250ms", "10s", "2m", "1h", "1.5s"; a bare number is seconds.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Parses argv with CLI11 and turns its exceptions into a process exit the
// way CLI11 does (help -> 0, error -> message + 2). Returns -1 to go on.
int ParseOrExit(CLI::App& app, int argc, char** argv);
// The same with CLI11's help and messages written to `out` and `err`.
int ParseOrExit(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                std::ostream& err);

}  // namespace recstack::config
