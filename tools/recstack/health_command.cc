// recstack health: the gRPC health status of one service (scripts use it to
// wait for a stack to come up; containers use it as their health check).
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/grpc/channel.h"
#include "common/status/status.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"

namespace recstack::cli {

void RegisterHealthCommand(CLI::App& app, const Dialer& dialer) {
  struct Opts {
    std::string addr, wait = "0", service;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "health", "Check (or wait for) a service's gRPC health: exit 0 when SERVING");
  cmd->add_option("--addr", o->addr,
                  "service HOST:PORT (or any gRPC target, e.g. dns:///HOST:PORT; with several "
                  "addresses one of them answers: check replicas one by one)")
      ->required();
  cmd->add_option("--wait", o->wait, "keep trying this long (e.g. 30s)")->capture_default_str();
  cmd->add_option("--service", o->service,
                  "the health-check name to ask: \"\" (the server, following its readiness "
                  "probe) or \"liveness\" (SERVING while the process runs)");
  cmd->callback([o, &dialer] {
    RunCommand("health", [&]() -> absl::Status {
      if (absl::Status st = config::ValidateTarget("addr", o->addr); !st.ok()) return st;
      auto wait = config::ParseDuration(o->wait);
      if (!wait.ok())
        return absl::InvalidArgumentError(absl::StrCat("--wait: ", wait.status().message()));
      RECSTACK_ASSIGN_OR_RETURN(auto credentials, dialer.Credentials());
      absl::Status st = wait->count() > 0
                            ? grpcutil::WaitForServing(o->addr, *wait, credentials, o->service)
                            : grpcutil::CheckHealth(*grpcutil::MakeChannel(o->addr, credentials),
                                                    std::chrono::seconds(2), o->service);
      if (!st.ok()) return st;
      std::cout << o->addr << " SERVING\n";
      return absl::OkStatus();
    });
  });
}

}  // namespace recstack::cli
