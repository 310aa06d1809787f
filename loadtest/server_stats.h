#pragma once

// What a run cost the servers, read before and after it: Redis commands
// (INFO commandstats) and each service's CPU seconds (the
// process_cpu_seconds_total of its /metrics). Divided by the requests sent,
// they are the per-request budget of docs/loadtest.md.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadtest/options.h"
#include "nlohmann/json.hpp"

namespace recstack::loadtest {

// Command name -> calls so far ("get", "evalsha", ...).
absl::StatusOr<std::map<std::string, int64_t>> RedisCommandCalls(const std::string& redis_url);
// Parses the text of INFO commandstats.
std::map<std::string, int64_t> ParseCommandStats(const std::string& info);

// process_cpu_seconds_total of one /metrics endpoint.
absl::StatusOr<double> ScrapeCpuSeconds(const std::string& host_port);

// Commands whose cost grows with the catalogue or the window: none of them
// belongs on the request path.
bool IsCatalogueSized(const std::string& command);

struct ServerSnapshot {
  std::map<std::string, int64_t> redis;
  std::map<std::string, double> cpu_seconds;
};
absl::StatusOr<ServerSnapshot> TakeSnapshot(const std::string& redis_url,
                                            const std::map<std::string, std::string>& metrics);
// The difference per request sent (and per second for catalogue-sized
// commands): redis_commands_per_request, redis_commands (by command),
// redis_catalogue_sized_per_second, cpu_us_per_request (by service).
nlohmann::json PerRequest(const ServerSnapshot& before, const ServerSnapshot& after,
                          int64_t requests, double seconds);

}  // namespace recstack::loadtest
