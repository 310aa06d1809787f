#include "common/config/config.h"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/redis/client.h"

namespace recstack::config {
namespace {

std::string S(std::string_view v) { return std::string(v); }

// Removes `prefix` from the front of `*text` when it is there.
bool ConsumePrefix(std::string_view* text, std::string_view prefix) {
  if (!text->starts_with(prefix)) return false;
  text->remove_prefix(prefix.size());
  return true;
}

// Why `hp` is not HOST:PORT, or nothing when it is.
std::optional<std::string_view> HostPortError(std::string_view hp, bool allow_port_zero) {
  size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return "is not HOST:PORT";
  std::string_view host = hp.substr(0, colon);
  if (host.find(':') != std::string_view::npos && !(host.front() == '[' && host.back() == ']')) {
    return "is not HOST:PORT (IPv6 hosts go in brackets)";
  }
  std::string_view port = hp.substr(colon + 1);
  int n = -1;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (ec != std::errc() || ptr != port.data() + port.size() || n < 0 || n > 65535 ||
      (n == 0 && !allow_port_zero)) {
    return allow_port_zero ? "has no valid port (0-65535)" : "has no valid port (1-65535)";
  }
  return std::nullopt;
}

// Why `hp` is not a literal IP:PORT of `family` (AF_INET: 1.2.3.4:5,
// AF_INET6: [::1]:5), or nothing when it is.
std::optional<std::string> IpPortError(std::string_view hp, int family) {
  if (auto why = HostPortError(hp, false)) return absl::StrCat("'", S(hp), "' ", S(*why));
  std::string host = S(hp.substr(0, hp.rfind(':')));
  if (family == AF_INET6) {
    if (host.front() != '[') {
      return absl::StrCat("'", S(hp), "' is not [IPv6]:PORT");
    }
    host = host.substr(1, host.size() - 2);
  }
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(family, host.c_str(), buf) != 1) {
    return absl::StrCat(
        "'", host, "' is not an ", family == AF_INET ? "IPv4" : "IPv6", " address (",
        family == AF_INET ? "ipv4:" : "ipv6:", " lists addresses; names go in dns:///HOST:PORT)");
  }
  return std::nullopt;
}

}  // namespace

std::string EnvName(std::string_view flag) {
  std::string out = "RECSTACK_";
  for (char c : flag) out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

void AddServiceFlags(CLI::App& app, ServiceConfig* c) {
  const ServicePorts p = DefaultPortsFor(c->service);
  if (c->listen.empty()) c->listen = absl::StrCat("127.0.0.1:", p.grpc);
  if (c->metrics_listen.empty()) c->metrics_listen = absl::StrCat("127.0.0.1:", p.metrics);
  app.add_option("--listen", c->listen, "gRPC address HOST:PORT")
      ->envname(EnvName("listen"))
      ->capture_default_str();
  app.add_option("--metrics-listen", c->metrics_listen,
                 "Prometheus /metrics address HOST:PORT (\"off\" disables)")
      ->envname(EnvName("metrics-listen"))
      ->capture_default_str();
  app.add_option("--redis-url", c->redis_url,
                 "redis://[:password@]host:port[/db], unix:///path or "
                 "redis-cluster://[:password@]host:port,host:port,...")
      ->envname(EnvName("redis-url"))
      ->capture_default_str();
  app.add_option("--key-prefix", c->key_prefix, "prefix of every Redis key")
      ->envname(EnvName("key-prefix"))
      ->capture_default_str();
  app.add_option("--event-partitions", c->event_partitions,
                 "event log streams, a user's events always in one (0: 1 on a single Redis, 16 on "
                 "a cluster); every service of a stack must use the same value")
      ->envname(EnvName("event-partitions"))
      ->capture_default_str();
  app.add_option("--log-level", c->log_level, "debug, info, warn or error")
      ->envname(EnvName("log-level"))
      ->capture_default_str();
  app.add_option("--drain-seconds", c->drain_seconds, "graceful shutdown deadline after SIGTERM")
      ->envname(EnvName("drain-seconds"))
      ->capture_default_str();
  app.add_option("--redis-pool-size", c->redis_pool_size, "Redis connections (1-256)")
      ->envname(EnvName("redis-pool-size"))
      ->capture_default_str();
  app.add_option("--max-inflight", c->max_inflight,
                 "upper bound of the adaptive limit on requests in flight (2-10000); past it "
                 "requests are shed with RESOURCE_EXHAUSTED")
      ->envname(EnvName("max-inflight"))
      ->capture_default_str();
  app.add_option("--latency-target-ms", c->latency_target_ms,
                 "requests slower than this lower the in-flight limit (0.1-60000)")
      ->envname(EnvName("latency-target-ms"))
      ->capture_default_str();
  app.add_option("--max-connection-age-seconds", c->max_connection_age_seconds,
                 "ask clients to reconnect after about this long (calls in flight finish), so "
                 "they re-resolve names like dns:///retrieval:50053 and find new replicas; 0 "
                 "= never (0-86400)")
      ->envname(EnvName("max-connection-age-seconds"))
      ->capture_default_str();
  AddTlsFlags(app, &c->tls, TlsRole::kService);
}

void AddAddressFlag(CLI::App& app, const std::string& name, std::string* value,
                    const std::string& help) {
  app.add_option("--" + name, *value, help)->envname(EnvName(name))->capture_default_str();
}

absl::Status ValidateAddress(std::string_view flag, std::string_view hp, bool allow_port_zero) {
  if (auto why = HostPortError(hp, allow_port_zero)) {
    return absl::InvalidArgumentError(absl::StrCat("--", S(flag), ": '", S(hp), "' ", S(*why)));
  }
  return absl::OkStatus();
}

absl::Status ValidateTarget(std::string_view flag, std::string_view target) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", S(flag), ": '", S(target), "' ", S(why),
                     "; a target is HOST:PORT, dns:///HOST:PORT, ipv4:IP:PORT[,IP:PORT...], "
                     "ipv6:[IP]:PORT[,[IP]:PORT...] or unix:PATH"));
  };
  std::string_view rest = target;
  if (ConsumePrefix(&rest, "unix:")) {
    if (rest.empty()) return bad("has no socket path");
    return absl::OkStatus();
  }
  for (int family : {AF_INET, AF_INET6}) {
    if (!ConsumePrefix(&rest, family == AF_INET ? "ipv4:" : "ipv6:")) continue;
    if (rest.empty()) return bad("lists no address");
    while (true) {
      const size_t comma = rest.find(',');
      if (auto why = IpPortError(rest.substr(0, comma), family)) {
        return bad(absl::StrCat("lists ", *why));
      }
      if (comma == std::string_view::npos) return absl::OkStatus();
      rest.remove_prefix(comma + 1);
    }
  }
  if (ConsumePrefix(&rest, "dns:")) {
    // dns:HOST:PORT, dns:///HOST:PORT or dns://DNS-SERVER/HOST:PORT.
    if (ConsumePrefix(&rest, "//")) {
      size_t slash = rest.find('/');
      if (slash == std::string_view::npos) return bad("is not dns:///HOST:PORT");
      rest.remove_prefix(slash + 1);
    }
    if (auto why = HostPortError(rest, false)) {
      return bad(absl::StrCat("names '", S(rest), "', which ", S(*why)));
    }
    return absl::OkStatus();
  }
  if (target.find("://") != std::string_view::npos) return bad("has an unknown scheme");
  if (auto why = HostPortError(target, false)) return bad(*why);
  return absl::OkStatus();
}

absl::Status Validate(const ServiceConfig& c) {
  if (absl::Status s = ValidateAddress("listen", c.listen); !s.ok()) return s;
  if (!c.metrics_listen.empty() && c.metrics_listen != "off") {
    if (absl::Status s = ValidateAddress("metrics-listen", c.metrics_listen); !s.ok()) return s;
  }
  if (auto url = redis::ParseUrl(c.redis_url); !url.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--redis-url: ", url.status().message()));
  }
  if (c.key_prefix.empty() || c.key_prefix.size() > 64) {
    return absl::InvalidArgumentError("--key-prefix: must be 1-64 bytes");
  }
  if (c.event_partitions < 0 || c.event_partitions > redis::Keyspace::kMaxPartitions) {
    return absl::InvalidArgumentError(absl::StrCat("--event-partitions: must be 0-",
                                                   redis::Keyspace::kMaxPartitions, ", got ",
                                                   c.event_partitions));
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-level: '", c.log_level, "' is not debug, info, warn or error"));
  }
  if (!(c.drain_seconds >= 0 && c.drain_seconds <= 600)) {
    return absl::InvalidArgumentError("--drain-seconds: must be 0-600");
  }
  if (c.redis_pool_size < 1 || c.redis_pool_size > 256) {
    return absl::InvalidArgumentError("--redis-pool-size: must be 1-256");
  }
  if (c.max_inflight < 2 || c.max_inflight > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-inflight: must be 2-10000, got ", c.max_inflight));
  }
  if (!(c.latency_target_ms >= 0.1 && c.latency_target_ms <= 60000)) {
    return absl::InvalidArgumentError("--latency-target-ms: must be 0.1-60000");
  }
  if (!(c.max_connection_age_seconds >= 0 && c.max_connection_age_seconds <= 86400)) {
    return absl::InvalidArgumentError("--max-connection-age-seconds: must be 0-86400");
  }
  return ValidateTls(c.tls, TlsRole::kService);
}

redis::Keyspace KeyspaceFor(const ServiceConfig& c) {
  auto url = redis::ParseUrl(c.redis_url);
  return redis::Keyspace::For(url.ok() ? *url : redis::Options{}, c.key_prefix, c.event_partitions);
}

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("'", S(text), "' is not a duration (e.g. 250ms, 10s, 2m, 1h, 7d)"));
  };
  if (text.empty()) return bad();
  size_t unit = text.find_first_not_of("0123456789.");
  std::string_view number = text.substr(0, unit);
  std::string_view suffix = unit == std::string_view::npos ? "" : text.substr(unit);
  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || ptr != number.data() + number.size()) return bad();
  double ms_per_unit;
  if (suffix == "ms") {
    ms_per_unit = 1;
  } else if (suffix == "s" || suffix.empty()) {
    ms_per_unit = 1000;
  } else if (suffix == "m") {
    ms_per_unit = 60'000;
  } else if (suffix == "h") {
    ms_per_unit = 3'600'000;
  } else if (suffix == "d") {
    ms_per_unit = 86'400'000;
  } else {
    return bad();
  }
  double ms = value * ms_per_unit;
  if (!std::isfinite(ms) || ms < 0 || ms > 1e12) return bad();
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
}

int ParseOrExit(CLI::App& app, int argc, char** argv) {
  return ParseOrExit(app, argc, argv, std::cout, std::cerr);
}

int ParseOrExit(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                std::ostream& err) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message; usage errors exit 2 (help and version 0).
    return app.exit(e, out, err) == 0 ? 0 : 2;
  }
  return -1;
}

}  // namespace recstack::config
