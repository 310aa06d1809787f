// recstack: the command-line tool for users of the stack. Commands live in
// their own files; this file only assembles them.
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/math/blas_core.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"

int main(int argc, char** argv) {
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  CLI::App app{
      "recstack: a recommender-system backend you can run on a laptop.\n"
      "Generate data, train models, ingest events and ask for recommendations."};
  app.require_subcommand(1);
  app.fallthrough();
  // --tls-cert, --tls-key, --tls-ca: before or after the command's name.
  recstack::cli::Dialer dialer(app);
  // One line per command group (see commands.h).
  recstack::cli::RegisterDatagenCommand(app);
  recstack::cli::RegisterTrainCommand(app, dialer);
  recstack::cli::RegisterTuneCommand(app);
  recstack::cli::RegisterBlendCommand(app);
  recstack::cli::RegisterColdStartCommand(app);
  recstack::cli::RegisterIngestCommands(app, dialer);
  recstack::cli::RegisterModelsCommands(app, dialer);
  recstack::cli::RegisterRecommendCommands(app, dialer);
  recstack::cli::RegisterHealthCommand(app, dialer);
  recstack::cli::RegisterRankerCommands(app, dialer);
  try {
    app.parse(argc, argv);
  } catch (const recstack::cli::CommandFailed& e) {
    std::cerr << e.what() << "\n";
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // Usage errors exit 2 (help and version exit 0).
    return code == 0 ? 0 : 2;
  }
  return 0;
}
