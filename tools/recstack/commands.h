#pragma once

// One registration function per command group; main.cc calls them all.
// Each adds a subcommand to `app` whose callback runs the command and
// reports its outcome through CommandResult (see cli_util.h); those that call
// the stack dial it with `dialer`, which outlives them.

#include <CLI/CLI.hpp>

#include "tools/recstack/cli_util.h"

namespace recstack::cli {

void RegisterDatagenCommand(CLI::App& app);
void RegisterTrainCommand(CLI::App& app, const Dialer& dialer);
void RegisterTuneCommand(CLI::App& app);
void RegisterBlendCommand(CLI::App& app);      // ease + als-implicit, offline
void RegisterColdStartCommand(CLI::App& app);  // new users' quality by history, offline
void RegisterIngestCommands(CLI::App& app, const Dialer& dialer);     // ingest, history, trending
void RegisterModelsCommands(CLI::App& app, const Dialer& dialer);     // models, promote
void RegisterRecommendCommands(CLI::App& app, const Dialer& dialer);  // recommend, similar
void RegisterHealthCommand(CLI::App& app, const Dialer& dialer);
void RegisterRankerCommands(
    CLI::App& app, const Dialer& dialer);  // ranker train/evaluate, experiment report/sample-size

}  // namespace recstack::cli
