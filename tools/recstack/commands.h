#pragma once

// One registration function per command group; main.cc calls them all.
// Each adds a subcommand to `app` whose callback runs the command and
// reports its outcome through CommandResult (see cli_util.h).

#include <CLI/CLI.hpp>

namespace recstack::cli {

void RegisterDatagenCommand(CLI::App& app);
void RegisterTrainCommand(CLI::App& app);
void RegisterTuneCommand(CLI::App& app);
void RegisterBlendCommand(CLI::App& app);       // ease + als-implicit, offline
void RegisterColdStartCommand(CLI::App& app);   // new users' quality by history, offline
void RegisterIngestCommands(CLI::App& app);     // ingest, history, trending
void RegisterModelsCommands(CLI::App& app);     // models, promote
void RegisterRecommendCommands(CLI::App& app);  // recommend, similar
void RegisterHealthCommand(CLI::App& app);
void RegisterRankerCommands(CLI::App& app);  // ranker train/evaluate, experiment report/sample-size

}  // namespace recstack::cli
