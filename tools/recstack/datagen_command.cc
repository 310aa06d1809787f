// recstack datagen: a synthetic data set with a planted latent model.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/data/synthetic.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"

namespace recstack::cli {

void RegisterDatagenCommand(CLI::App& app) {
  struct Opts {
    data::SyntheticParams params;
    std::string end_time = std::to_string(data::SyntheticParams{}.end_time_ms);
    std::string out;
    bool json = false;
  };
  auto opts = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "datagen", "Generate a synthetic data set with a known latent model (and its ground truth)");
  cmd->add_option("--users", opts->params.users, "number of users")->capture_default_str();
  cmd->add_option("--items", opts->params.items, "number of items")->capture_default_str();
  cmd->add_option("--interactions", opts->params.interactions, "target number of interactions")
      ->capture_default_str();
  cmd->add_option("--seed", opts->params.seed, "random seed")->capture_default_str();
  cmd->add_option("--rank", opts->params.rank, "rank of the planted model")->capture_default_str();
  cmd->add_option(
         "--zipf-exponent", opts->params.zipf_exponent,
         "item popularity skew (log popularity = -s ln rank); lower covers more of a big catalogue")
      ->capture_default_str();
  cmd->add_option("--beta", opts->params.beta, "strength of the planted affinity in the sampling")
      ->capture_default_str();
  cmd->add_option("--days", opts->params.days, "days the events span")->capture_default_str();
  // A fixed default keeps a seed's bytes the same on every day; a live
  // stack wants `now`, so that its trending window holds the events.
  cmd->add_option("--end-time-ms", opts->end_time,
                  "time of the last event: epoch ms, or `now` (a live stack's trending window "
                  "holds only recent events)")
      ->capture_default_str();
  cmd->add_option("--out", opts->out, "output directory")->required();
  cmd->add_flag("--json", opts->json, "print the summary as one JSON object");
  cmd->callback([opts] {
    RunCommand("datagen", [&]() -> absl::Status {
      if (opts->end_time == "now") {
        opts->params.end_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
      } else if (!absl::SimpleAtoi(opts->end_time, &opts->params.end_time_ms)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--end-time-ms must be epoch milliseconds or `now`, got \"", opts->end_time, "\""));
      }
      auto sum = data::GenerateSynthetic(opts->params, opts->out);
      if (!sum.ok()) return sum.status();
      if (opts->json) {
        nlohmann::json j = {{"users", sum->users},
                            {"items", sum->items},
                            {"interactions", sum->interactions},
                            {"density", sum->density},
                            {"mean_per_user", sum->mean_per_user},
                            {"median_per_user", sum->median_per_user},
                            {"max_per_user", sum->max_per_user},
                            {"top1pct_item_share", sum->top1pct_item_share},
                            {"files", sum->files}};
        std::cout << j.dump() << "\n";
      } else {
        std::cout << std::fixed << std::setprecision(4) << "users          " << sum->users << "\n"
                  << "items          " << sum->items << "\n"
                  << "interactions   " << sum->interactions << "\n"
                  << "density        " << sum->density << "\n"
                  << "per user       mean " << std::setprecision(1) << sum->mean_per_user
                  << ", median " << sum->median_per_user << ", max " << sum->max_per_user << "\n"
                  << "top 1% items   " << std::setprecision(1) << 100 * sum->top1pct_item_share
                  << "% of interactions\n"
                  << "files\n";
        for (const auto& f : sum->files) std::cout << "  " << f << "\n";
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace recstack::cli
