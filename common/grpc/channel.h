#pragma once

// Client-side helpers: one shared channel per peer (STYLE rule 7), deadlines
// derived from the incoming call, and a health wait.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace recstack::grpcutil {

// Keepalive: a client pings an idle connection every kKeepaliveTime so a
// dead peer is noticed, and every server (ServerOptions) accepts pings down
// to half that, with or without calls in flight. gRPC's server default
// accepts one ping per 5 minutes without data and answers a faster client
// with GOAWAY "too many pings", which fails the first call after an idle
// spell (seen as a degraded Recommend, "Too many pings", after a quiet spell).
inline constexpr std::chrono::milliseconds kKeepaliveTime{30'000};

// The channels' load-balancing policy (gRPC service config).
inline constexpr char kRoundRobinServiceConfig[] =
    R"({"loadBalancingConfig":[{"round_robin":{}}]})";

// A channel with keepalive, a 16 MiB message limit and round_robin over
// every address `target` resolves to:
//   HOST:PORT, dns:///HOST:PORT   every address the name resolves to (a
//                                 headless Service's pods), resolved again
//                                 when a connection drops
//   ipv4:IP:PORT,IP:PORT,...      a fixed list (local replicas)
// (config::ValidateTarget checks these forms). Plaintext without
// `credentials` (MakeChannelCredentials in common/grpc/tls.h builds TLS
// ones). Over TLS the server's certificate must name the target's host; a
// fixed list is checked against its first address's host. Build once, share.
std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

// What MakeChannel does for a fixed list (ipv4:A,B,... / ipv6:...): its
// first address is the channel's authority, so that TLS checks the servers'
// certificates against that address's host. For callers that build their
// own channels.
void SetListAuthority(const std::string& target, grpc::ChannelArguments& args);

// Deadline of an outgoing call: now + budget, but never past the incoming
// call's deadline (so a caller's budget is honoured end to end).
void SetDeadline(grpc::ClientContext& ctx, std::chrono::milliseconds budget,
                 const grpc::ServerContextBase* incoming = nullptr);

// One health check ("" = the whole server). OK when SERVING; UNAVAILABLE
// with the status otherwise.
absl::Status CheckHealth(grpc::Channel& channel, std::chrono::milliseconds timeout,
                         const std::string& service = "");
// Polls CheckHealth (of `service`) until SERVING or `timeout`.
absl::Status WaitForServing(const std::string& address, std::chrono::milliseconds timeout,
                            std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
                            const std::string& service = "");

}  // namespace recstack::grpcutil
