#pragma once

// Client-side helpers: one shared channel per peer (STYLE rule 7), deadlines
// derived from the incoming call, and a health wait.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace recstack::grpcutil {

// Insecure (loopback / service mesh) channel with keepalive and a 16 MiB
// message limit. Build once, share.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// Deadline of an outgoing call: now + budget, but never past the incoming
// call's deadline (so a caller's budget is honoured end to end).
void SetDeadline(grpc::ClientContext& ctx, std::chrono::milliseconds budget,
                 const grpc::ServerContextBase* incoming = nullptr);

// One health check ("" = the whole server). OK when SERVING; UNAVAILABLE
// with the status otherwise.
absl::Status CheckHealth(grpc::Channel& channel, std::chrono::milliseconds timeout,
                         const std::string& service = "");
// Polls CheckHealth until SERVING or `timeout`.
absl::Status WaitForServing(const std::string& address, std::chrono::milliseconds timeout);

}  // namespace recstack::grpcutil
