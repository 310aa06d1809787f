// recstack models / promote: model versions on the training service.
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/config/ports.h"
#include "common/grpc/channel.h"
#include "common/grpc/status.h"
#include "common/status/status.h"
#include "recstack/v1/training.grpc.pb.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"

namespace recstack::cli {

void RegisterModelsCommands(CLI::App& app, const Dialer& dialer) {
  struct Opts {
    std::string addr = config::DefaultAddress("training"), version;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* models = app.add_subcommand("models", "List the kept model versions");
  models->add_option("--addr", o->addr, "training service HOST:PORT")->capture_default_str();
  models->add_flag("--json", o->json, "print JSON");
  models->callback([o, &dialer] {
    RunCommand("models", [&]() -> absl::Status {
      RECSTACK_ASSIGN_OR_RETURN(auto channel, dialer.Dial(o->addr));
      auto stub = v1::TrainingService::NewStub(channel);
      grpc::ClientContext ctx;
      grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
      v1::ListModelsResponse resp;
      RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->ListModels(&ctx, {}, &resp)));
      if (o->json) {
        nlohmann::json j = {{"current_version", resp.current_version()},
                            {"models", nlohmann::json::array()}};
        for (const auto& m : resp.models()) {
          j["models"].push_back(
              {{"version", m.version()},
               {"algorithm", v1::Algorithm_Name(m.algorithm())},
               {"users", m.n_users()},
               {"items", m.n_items()},
               {"factors", m.factors()},
               {"created_at_ms", m.created_at_ms()},
               {"current", m.current()},
               {"metrics", std::map<std::string, double>(m.metrics().begin(), m.metrics().end())}});
        }
        std::cout << j.dump() << "\n";
        return absl::OkStatus();
      }
      std::cout << "  version   algorithm      users    items  factors  metrics\n";
      for (const auto& m : resp.models()) {
        std::cout << (m.current() ? "* " : "  ") << std::left << std::setw(10) << m.version()
                  << std::setw(15) << v1::Algorithm_Name(m.algorithm()) << std::setw(9)
                  << m.n_users() << std::setw(9) << m.n_items() << std::setw(9) << m.factors();
        for (const auto& [k, v] : m.metrics()) {
          if (k.find('@') != std::string::npos || k == "rmse")
            std::cout << k << "=" << std::setprecision(4) << v << " ";
        }
        std::cout << "\n";
      }
      return absl::OkStatus();
    });
  });
  CLI::App* promote =
      app.add_subcommand("promote", "Serve a kept model version (also how to roll back)");
  promote->add_option("VERSION", o->version, "e.g. v3")->required();
  promote->add_option("--addr", o->addr, "training service HOST:PORT")->capture_default_str();
  promote->callback([o, &dialer] {
    RunCommand("promote", [&]() -> absl::Status {
      RECSTACK_ASSIGN_OR_RETURN(auto channel, dialer.Dial(o->addr));
      auto stub = v1::TrainingService::NewStub(channel);
      grpc::ClientContext ctx;
      grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
      v1::PromoteModelRequest req;
      req.set_version(o->version);
      v1::ModelInfo info;
      RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->PromoteModel(&ctx, req, &info)));
      std::cout << info.version() << " is now current\n";
      return absl::OkStatus();
    });
  });
}

}  // namespace recstack::cli
