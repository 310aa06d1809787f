#include "loadtest/server_stats.h"

#include <httplib.h>

#include <cmath>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/redis/client.h"

namespace recstack::loadtest {

std::map<std::string, int64_t> ParseCommandStats(const std::string& info) {
  // cmdstat_get:calls=12,usec=34,usec_per_call=2.83,rejected_calls=0,failed_calls=0
  std::map<std::string, int64_t> out;
  std::istringstream in(info);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cmdstat_", 0) != 0) continue;
    const size_t colon = line.find(':');
    const size_t calls = line.find("calls=", colon);
    if (colon == std::string::npos || calls == std::string::npos) continue;
    out[line.substr(8, colon - 8)] = std::atoll(line.c_str() + calls + 6);
  }
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> RedisCommandCalls(const std::string& redis_url) {
  auto opts = redis::ParseUrl(redis_url);
  if (!opts.ok())
    return absl::InvalidArgumentError(absl::StrCat("--redis-url: ", opts.status().message()));
  auto conn = redis::Connection::Connect(*opts);
  if (!conn.ok()) return conn.status();
  // On a cluster: every master's counts, summed.
  auto replies = (*conn)->OnEachMaster({"INFO", "commandstats"});
  if (!replies.ok()) return replies.status();
  std::map<std::string, int64_t> total;
  for (const auto& r : *replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
    for (const auto& [name, calls] : ParseCommandStats(r.str)) total[name] += calls;
  }
  return total;
}

absl::StatusOr<double> ScrapeCpuSeconds(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos)
    return absl::InvalidArgumentError(absl::StrCat("'", host_port, "' is not HOST:PORT"));
  httplib::Client cli(host_port.substr(0, colon), std::atoi(host_port.c_str() + colon + 1));
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(5, 0);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) {
    return absl::UnavailableError(absl::StrCat("cannot scrape http://", host_port, "/metrics"));
  }
  std::istringstream in(res->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("process_cpu_seconds_total ", 0) == 0) return std::atof(line.c_str() + 26);
  }
  return absl::NotFoundError(
      absl::StrCat("http://", host_port, "/metrics has no process_cpu_seconds_total"));
}

bool IsCatalogueSized(const std::string& c) {
  return c == "zunion" || c == "zunionstore" || c == "zinterstore" || c == "keys" || c == "scan" ||
         c == "zrange" || c == "zrangestore" || c == "hgetall|all";
}

absl::StatusOr<ServerSnapshot> TakeSnapshot(const std::string& redis_url,
                                            const std::map<std::string, std::string>& metrics) {
  ServerSnapshot s;
  if (!redis_url.empty()) {
    auto r = RedisCommandCalls(redis_url);
    if (!r.ok()) return r.status();
    s.redis = std::move(*r);
  }
  for (const auto& [name, addr] : metrics) {
    auto cpu = ScrapeCpuSeconds(addr);
    if (!cpu.ok())
      return absl::Status(cpu.status().code(), absl::StrCat(name, ": ", cpu.status().message()));
    s.cpu_seconds[name] = *cpu;
  }
  return s;
}

nlohmann::json PerRequest(const ServerSnapshot& before, const ServerSnapshot& after,
                          int64_t requests, double seconds) {
  nlohmann::json j = nlohmann::json::object();
  const double n = static_cast<double>(std::max<int64_t>(requests, 1));
  auto round3 = [](double v) { return std::round(v * 1000) / 1000; };
  if (!after.redis.empty()) {
    int64_t total = 0, catalogue = 0;
    nlohmann::json by = nlohmann::json::object();
    for (const auto& [cmd, calls] : after.redis) {
      auto it = before.redis.find(cmd);
      int64_t d = calls - (it == before.redis.end() ? 0 : it->second);
      if (cmd == "info") d = std::max<int64_t>(0, d - 1);  // our own INFO
      if (d <= 0) continue;
      total += d;
      if (IsCatalogueSized(cmd)) catalogue += d;
      by[cmd] = round3(d / n);
    }
    j["redis_commands_per_request"] = round3(total / n);
    j["redis_commands"] = std::move(by);
    j["redis_catalogue_sized_per_second"] = round3(seconds > 0 ? catalogue / seconds : 0);
  }
  if (!after.cpu_seconds.empty()) {
    nlohmann::json cpu = nlohmann::json::object();
    double sum = 0;
    for (const auto& [name, s] : after.cpu_seconds) {
      auto it = before.cpu_seconds.find(name);
      const double d = s - (it == before.cpu_seconds.end() ? 0 : it->second);
      cpu[name] = std::round(d / n * 1e6 * 10) / 10;
      sum += d;
    }
    j["cpu_us_per_request"] = std::move(cpu);
    j["cpu_us_per_request_total"] = std::round(sum / n * 1e6 * 10) / 10;
  }
  return j;
}

}  // namespace recstack::loadtest
