#include "common/grpc/channel.h"

#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace recstack::grpcutil {

void SetListAuthority(const std::string& target, grpc::ChannelArguments& args) {
  // A fixed list's authority would be the whole list ("127.0.0.1:50053,
  // 127.0.0.1:50063"), a name no certificate carries: its first address
  // stands for it, in :authority and in TLS's check of the server's name.
  for (std::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (target.starts_with(scheme)) {
      std::string_view list = std::string_view(target).substr(scheme.size());
      args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, std::string(list.substr(0, list.find(','))));
    }
  }
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                           std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(kKeepaliveTime.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetMaxReceiveMessageSize(16 << 20);
  // Reconnect quickly after a peer restarts (the default max backoff is 120 s).
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // Every call picks the next READY address the target resolves to, so
  // replicas behind one name share the load and a dead one drops out of the
  // rotation as soon as its connection breaks (pick_first, gRPC's default,
  // sends every call down one connection until it fails). The policy is
  // ours: a service config published in DNS TXT records is not consulted.
  args.SetServiceConfigJSON(kRoundRobinServiceConfig);
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  SetListAuthority(target, args);
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  return grpc::CreateCustomChannel(target, credentials, args);
}

void SetDeadline(grpc::ClientContext& ctx, std::chrono::milliseconds budget,
                 const grpc::ServerContextBase* incoming) {
  auto deadline = std::chrono::system_clock::now() + budget;
  if (incoming != nullptr) deadline = std::min(deadline, incoming->deadline());
  ctx.set_deadline(deadline);
}

absl::Status CheckHealth(grpc::Channel& channel, std::chrono::milliseconds timeout,
                         const std::string& service) {
  // The stub wraps a non-owning reference: the channel outlives the call.
  std::shared_ptr<grpc::Channel> ref(&channel, [](grpc::Channel*) {});
  auto stub = ::grpc::health::v1::Health::NewStub(ref);
  grpc::ClientContext ctx;
  SetDeadline(ctx, timeout);
  ::grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  ::grpc::health::v1::HealthCheckResponse resp;
  grpc::Status st = stub->Check(&ctx, req, &resp);
  if (!st.ok()) {
    return absl::UnavailableError(absl::StrCat("health check: ", st.error_message()));
  }
  if (resp.status() != ::grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        "health: ", ::grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status())));
  }
  return absl::OkStatus();
}

absl::Status WaitForServing(const std::string& address, std::chrono::milliseconds timeout,
                            std::shared_ptr<grpc::ChannelCredentials> credentials,
                            const std::string& service) {
  auto channel = MakeChannel(address, std::move(credentials));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  absl::Status last = absl::DeadlineExceededError("not checked");
  while (std::chrono::steady_clock::now() < deadline) {
    last = CheckHealth(*channel, std::chrono::milliseconds(500), service);
    if (last.ok()) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(address, " not SERVING after ", timeout.count(), " ms: ", last.message()));
}

}  // namespace recstack::grpcutil
