#pragma once

// Shared plumbing of CLI commands: a command's callback throws no
// exceptions of its own; it returns an absl::Status through RunCommand(), which
// main turns into "recstack <cmd>: <message>" and exit code 1. Commands that
// call the stack dial it through the Dialer (TLS when the flags ask).

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config/tls.h"

namespace recstack::cli {

// Thrown (as a CLI11 error) out of a subcommand callback to end the program
// with exit code 1 and the status message on stderr.
class CommandFailed : public CLI::Error {
 public:
  CommandFailed(const std::string& command, const absl::Status& status);
};

// Runs `body`; on error throws CommandFailed naming the command.
void RunCommand(const std::string& command, const std::function<absl::Status()>& body);

// How commands reach the stack's services: plaintext, or TLS with the
// top-level --tls-cert, --tls-key, --tls-ca (RECSTACK_TLS_*), which every
// command accepts after its name too (`recstack health --addr A --tls-ca F`).
class Dialer {
 public:
  // Adds the TLS flags to `app`; the Dialer must outlive its parsing.
  explicit Dialer(CLI::App& app);
  // A channel to the gRPC target (grpcutil::MakeChannel); errors name the
  // flag of a TLS file that is missing or wrong.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const std::string& target) const;
  // The channel credentials the flags describe (insecure without them).
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials() const;

 private:
  config::TlsConfig tls_;
};

}  // namespace recstack::cli
