#pragma once

// Shared plumbing of CLI commands: a command's callback throws no
// exceptions of its own; it returns an absl::Status through RunCommand(), which
// main turns into "recstack <cmd>: <message>" and exit code 1.

#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"

namespace recstack::cli {

// Thrown (as a CLI11 error) out of a subcommand callback to end the program
// with exit code 1 and the status message on stderr.
class CommandFailed : public CLI::Error {
 public:
  CommandFailed(const std::string& command, const absl::Status& status);
};

// Runs `body`; on error throws CommandFailed naming the command.
void RunCommand(const std::string& command, const std::function<absl::Status()>& body);

}  // namespace recstack::cli
