#include "tools/recstack/cli_util.h"

namespace recstack::cli {

CommandFailed::CommandFailed(const std::string& command, const absl::Status& status)
    : CLI::Error("CommandFailed", "recstack " + command + ": " + std::string(status.message()), 1) {
}

void RunCommand(const std::string& command, const std::function<absl::Status()>& body) {
  absl::Status st = body();
  if (!st.ok()) throw CommandFailed(command, st);
}

}  // namespace recstack::cli
