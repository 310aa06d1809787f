// recstack health: the gRPC health status of one service (scripts use it to
// wait for a stack to come up).
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/grpc/channel.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"

namespace recstack::cli {

void RegisterHealthCommand(CLI::App& app) {
  struct Opts {
    std::string addr, wait = "0";
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "health", "Check (or wait for) a service's gRPC health: exit 0 when SERVING");
  cmd->add_option("--addr", o->addr,
                  "service HOST:PORT (or any gRPC target, e.g. dns:///HOST:PORT; with several "
                  "addresses one of them answers: check replicas one by one)")
      ->required();
  cmd->add_option("--wait", o->wait, "keep trying this long (e.g. 30s)")->capture_default_str();
  cmd->callback([o] {
    RunCommand("health", [&]() -> absl::Status {
      if (absl::Status st = config::ValidateTarget("addr", o->addr); !st.ok()) return st;
      auto wait = config::ParseDuration(o->wait);
      if (!wait.ok())
        return absl::InvalidArgumentError(absl::StrCat("--wait: ", wait.status().message()));
      absl::Status st = wait->count() > 0 ? grpcutil::WaitForServing(o->addr, *wait)
                                          : grpcutil::CheckHealth(*grpcutil::MakeChannel(o->addr),
                                                                  std::chrono::seconds(2));
      if (!st.ok()) return st;
      std::cout << o->addr << " SERVING\n";
      return absl::OkStatus();
    });
  });
}

}  // namespace recstack::cli
