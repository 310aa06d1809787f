#include "common/grpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <time.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/tls.h"
#include "common/log/log.h"
#include "common/overload/call_scope.h"

namespace recstack::grpcutil {
namespace {

// Marks each synchronous call's thread from before its handler to after its
// answer was sent (gRPC sends it on the handler's thread after the handler
// returns): a permit the handler gave to overload::ReleaseAfterSend is
// released then (common/overload/call_scope.h).
class CallHooks final : public grpc::Server::GlobalCallbacks {
 public:
  void PreSynchronousRequest(grpc::ServerContext*) override { overload::BeginCall(); }
  void PostSynchronousRequest(grpc::ServerContext*) override { overload::EndCall(); }
};

// gRPC 1.51 takes the hooks once per process, before its first server is
// made, and owns them.
void InstallCallHooks() {
  static std::once_flag once;
  std::call_once(once, [] { grpc::Server::SetGlobalCallbacks(new CallHooks); });
}

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ServerRunner::ServerRunner(ServerOptions options, std::shared_ptr<prometheus::Registry> registry)
    : options_(std::move(options)), registry_(std::move(registry)) {}

ServerRunner::~ServerRunner() { Shutdown(); }

void ServerRunner::AddService(grpc::Service* service) { services_.push_back(service); }

void ServerRunner::SetReadinessProbe(std::function<absl::Status()> probe,
                                     std::chrono::milliseconds period) {
  probe_ = std::move(probe);
  probe_period_ = period;
}

std::string ServerRunner::address() const { return absl::StrCat("127.0.0.1:", port_); }

absl::Status ServerRunner::Start() {
  // Debian's Abseil is built with absl::Mutex deadlock detection on: every
  // lock of gRPC's mutexes updates a global lock-order graph (3% of the
  // gateway's CPU per Recommend, docs/serving.md). Our sanitizer builds
  // and tests find lock-order bugs; a serving process does not need it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  InstallCallHooks();
  auto credentials = MakeServerCredentials(options_.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, *credentials, &port_);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  // Without this gRPC sets SO_REUSEPORT, and a second instance on a busy
  // port would start "successfully" and share its connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(options_.min_client_ping_interval.count()));
  if (options_.max_connection_age.count() > 0) {
    // No GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS: its default (no limit) lets
    // every call in flight, long client streams too, run to completion.
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               static_cast<int>(options_.max_connection_age.count()));
  }
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              options_.sync_server_max_pollers);
  for (grpc::Service* s : services_) builder.RegisterService(s);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("--listen: cannot listen on ", options_.listen));
  }
  if (!options_.metrics_listen.empty() && options_.metrics_listen != "off") {
    auto m = metrics::MetricsServer::Start(options_.metrics_listen, registry_);
    if (!m.ok()) {
      server_->Shutdown();
      return absl::UnavailableError(absl::StrCat("--metrics-listen: ", m.status().message()));
    }
    metrics_ = std::move(*m);
    metrics_port_ = metrics_->port();
  }
  // SetServingStatus(bool) covers "" (what probes and load balancers ask)
  // and every registered service.
  if (probe_) {
    SetServing(false);
    probe_thread_ = std::thread([this] { ProbeLoop(); });
  } else {
    SetServing(true);
  }
  log::Info("listening", {{"grpc", address()},
                          {"tls", !options_.tls.enabled()   ? "off"
                                  : options_.tls.ca.empty() ? "on"
                                                            : "mutual"},
                          {"metrics_port", metrics_port()}});
  return absl::OkStatus();
}

void ServerRunner::SetServing(bool serving) {
  if (server_ == nullptr) return;
  bool was;
  {
    // Under mu_ so that a SetServing(true) racing with Shutdown cannot flip
    // health back to SERVING once draining has begun.
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && serving) return;
    was = serving_.exchange(serving);
    server_->GetHealthCheckService()->SetServingStatus(serving);
    // SetServingStatus(bool) sets every known name: liveness stays up.
    server_->GetHealthCheckService()->SetServingStatus(kLivenessService, true);
  }
  if (was != serving) log::Info(serving ? "serving" : "not serving");
}

void ServerRunner::ProbeLoop() {
  auto backoff = std::chrono::milliseconds(100);
  std::string last_error;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    absl::Status st = probe_();
    SetServing(st.ok());
    if (!st.ok() && std::string(st.message()) != last_error) {
      last_error = std::string(st.message());
      log::Warn("readiness probe failed", {{"error", last_error}});
    } else if (st.ok()) {
      last_error.clear();
    }
    lock.lock();
    auto wait = st.ok() ? probe_period_ : backoff;
    backoff = st.ok()
                  ? std::chrono::milliseconds(100)
                  : std::min(backoff * 2, std::max(probe_period_, std::chrono::milliseconds(100)));
    cv_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

void ServerRunner::Wait() {
  sigset_t set = ShutdownSignals();
  // sigtimedwait takes a process-directed SIGTERM only while it is blocked in
  // every thread (BlockShutdownSignals); the tick lets Shutdown() from another
  // thread end the wait.
  timespec tick{0, 100'000'000};
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (server_ == nullptr || stopping_ || stopped_) break;
    }
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      log::Info("shutdown signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      break;
    }
  }
  Shutdown();
}

void ServerRunner::Shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  if (server_ == nullptr) {
    stopped_ = true;
    return;
  }
  if (stopping_) {
    // Another thread is draining: return once it has finished, as promised.
    cv_.wait(lock, [this] { return stopped_; });
    return;
  }
  stopping_ = true;
  lock.unlock();
  cv_.notify_all();  // wakes the probe loop
  DoShutdown();
}

void ServerRunner::DoShutdown() {
  if (probe_thread_.joinable()) probe_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    serving_ = false;
    server_->GetHealthCheckService()->SetServingStatus(false);
  }
  log::Info("draining", {{"deadline_ms", options_.drain_timeout.count()}});
  // Stops accepting, lets in-flight RPCs finish until the deadline, then
  // cancels what is left.
  server_->Shutdown(std::chrono::system_clock::now() + options_.drain_timeout);
  server_->Wait();
  metrics_.reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  log::Info("stopped");
}

}  // namespace recstack::grpcutil
