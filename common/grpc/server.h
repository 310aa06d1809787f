#pragma once

// Runs a gRPC server the way every recstack service needs it (DESIGN §1,
// STYLE rule 6): health checking and reflection, a Prometheus endpoint, a
// readiness probe (Redis) that drives the health status, and graceful
// shutdown on SIGTERM/SIGINT: health NOT_SERVING, drain in-flight RPCs up to
// a deadline, stop.

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/config/tls.h"
#include "common/grpc/channel.h"
#include "common/metrics/metrics.h"

namespace recstack::grpcutil {

// The health-check service name that stays SERVING while the process runs,
// whatever the readiness probe says (NOT_SERVING only once draining starts):
// what a liveness probe should ask, so that an outage of a dependency (Redis)
// takes pods out of load balancing without restarting them. "" and every
// registered service follow the readiness probe.
inline constexpr char kLivenessService[] = "liveness";

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // port 0 picks a free port
  std::string metrics_listen;          // "" or "off": no metrics endpoint
  std::chrono::milliseconds drain_timeout{5000};
  int max_receive_message_bytes = 16 << 20;
  // Pings closer together than this (on a connection without data) count
  // as abuse; below the clients' keepalive (channel.h) so theirs never do.
  std::chrono::milliseconds min_client_ping_interval = kKeepaliveTime / 2;
  // 0: off. Otherwise each connection gets a GOAWAY after about this long
  // (gRPC adds +-10% jitter); calls in flight finish, new ones go on a new
  // connection, and a client that resolves a name re-resolves it first, so
  // it finds replicas added since (round_robin over a headless Service).
  std::chrono::milliseconds max_connection_age{0};
  // Idle threads the synchronous server keeps polling for calls. gRPC's
  // default (2) makes a thread for each call that finds none idle and ends
  // it afterwards: at 150 Recommend/s that was 1,229 threads made and
  // ended in 12 s across the stack, each an mmap'd stack and a clone. At
  // 16, an overload made and ended one per call (the gateway grew to 790
  // threads, a third of its CPU in the kernel mapping their stacks); at
  // 256 a thread, once made, is kept (docs/serving.md, "Threads").
  int sync_server_max_pollers = 256;
  // Plaintext when empty; TLS, mutual with a CA (common/grpc/tls.h). Start
  // reads the files.
  config::TlsConfig tls;
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// later, so that ServerRunner::Wait can take them with sigtimedwait. Call it
// first thing in main, before any thread exists.
void BlockShutdownSignals();

class ServerRunner {
 public:
  ServerRunner(ServerOptions options, std::shared_ptr<prometheus::Registry> registry);
  ~ServerRunner();
  ServerRunner(const ServerRunner&) = delete;
  ServerRunner& operator=(const ServerRunner&) = delete;

  // Before Start. The service must outlive the runner.
  void AddService(grpc::Service* service);
  void AddService(grpc::CallbackGenericService* service) = delete;
  // Before Start: polled every `period` on a background thread (faster
  // retries with backoff while it fails); health follows it.
  void SetReadinessProbe(std::function<absl::Status()> probe, std::chrono::milliseconds period);

  absl::Status Start();
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }  // 0: no metrics endpoint
  std::string address() const;                        // "127.0.0.1:<port>"

  // Health status of "" and of every added service.
  void SetServing(bool serving);
  bool serving() const { return serving_.load(); }

  // Blocks until SIGTERM/SIGINT or Shutdown(), then shuts down gracefully.
  // Signals reach it only if BlockShutdownSignals() ran first in main;
  // otherwise they keep their default action. Returns at once if Start
  // failed or was never called.
  void Wait();
  // Thread-safe and idempotent: health NOT_SERVING, stop accepting, drain
  // in-flight RPCs up to drain_timeout, cancel the rest. Every caller
  // returns only once the server has stopped.
  void Shutdown();

 private:
  void ProbeLoop();
  void DoShutdown();

  ServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<grpc::Service*> services_;
  std::function<absl::Status()> probe_;
  std::chrono::milliseconds probe_period_{1000};

  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<metrics::MetricsServer> metrics_;
  int port_ = 0;
  int metrics_port_ = 0;
  std::atomic<bool> serving_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread probe_thread_;
};

}  // namespace recstack::grpcutil
