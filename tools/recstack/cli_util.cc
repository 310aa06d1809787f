#include "tools/recstack/cli_util.h"

#include "common/grpc/channel.h"
#include "common/grpc/tls.h"

namespace recstack::cli {

CommandFailed::CommandFailed(const std::string& command, const absl::Status& status)
    : CLI::Error("CommandFailed", "recstack " + command + ": " + std::string(status.message()), 1) {
}

void RunCommand(const std::string& command, const std::function<absl::Status()>& body) {
  absl::Status st = body();
  if (!st.ok()) throw CommandFailed(command, st);
}

Dialer::Dialer(CLI::App& app) { config::AddTlsFlags(app, &tls_, config::TlsRole::kClient); }

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Dialer::Credentials() const {
  if (absl::Status st = config::ValidateTls(tls_, config::TlsRole::kClient); !st.ok()) return st;
  return grpcutil::MakeChannelCredentials(tls_);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Dialer::Dial(const std::string& target) const {
  auto credentials = Credentials();
  if (!credentials.ok()) return credentials.status();
  return grpcutil::MakeChannel(target, *credentials);
}

}  // namespace recstack::cli
