#pragma once

// Prometheus exposition and the RPC metric set every service shares
// (STYLE rule 8): families and children are created once at start-up, so the
// request path only increments.

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace recstack::metrics {

// process_cpu_seconds_total and process_resident_memory_bytes, read at each
// scrape (getrusage, /proc/self/statm): what per-request CPU budgets divide.
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// Serves /metrics of `registry` on HOST:PORT (port 0 picks a free one),
// with the process metrics above, in the Prometheus text format. One
// cpp-httplib worker on a std::thread: prometheus-cpp's Exposer (civetweb)
// runs its workers on 100 KB stacks, which static TLS of OpenBLAS and
// XGBoost (glibc puts it on each thread's stack) all but fills, and a
// scrape of ranking crashed it.
class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::shared_ptr<prometheus::Registry> registry);
  ~MetricsServer();
  int port() const { return port_; }
  // The exposition text a scrape gets.
  std::string Scrape() const;

 private:
  MetricsServer() = default;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<ProcessCollector> process_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

// Log-spaced latency bucket bounds in seconds: kLatencyBuckets of them from
// 50 us to 10 s with a constant ratio (plus Prometheus' implicit +Inf).
inline constexpr int kLatencyBuckets = 24;
prometheus::Histogram::BucketBoundaries LatencyBuckets();

// recstack_rpc_requests_total{service,method,code} and
// recstack_rpc_latency_seconds{service,method}.
class RpcMetrics {
 public:
  RpcMetrics(prometheus::Registry& registry, std::string service,
             const std::vector<std::string>& methods);

  // `method` must be one given to the constructor (CHECKed).
  void Record(std::string_view method, absl::StatusCode code, double seconds);

 private:
  static constexpr int kCodes = 17;
  struct PerMethod {
    std::array<prometheus::Counter*, kCodes> requests{};
    prometheus::Histogram* latency = nullptr;
  };
  std::string service_;
  std::unordered_map<std::string, PerMethod> methods_;
};

// Records one RPC on destruction: `RpcTimer t(metrics, "Recommend"); ...; t.set_code(code);`
class RpcTimer {
 public:
  RpcTimer(RpcMetrics& metrics, std::string_view method)
      : metrics_(metrics), method_(method), start_(std::chrono::steady_clock::now()) {}
  ~RpcTimer() {
    metrics_.Record(
        method_, code_,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  void set_code(absl::StatusCode code) { code_ = code; }

 private:
  RpcMetrics& metrics_;
  std::string_view method_;
  std::chrono::steady_clock::time_point start_;
  absl::StatusCode code_ = absl::StatusCode::kOk;
};

// The gRPC-style name of a code: "OK", "INVALID_ARGUMENT", ...
std::string CodeName(absl::StatusCode code);

}  // namespace recstack::metrics
