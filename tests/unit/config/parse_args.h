#pragma once

// The config tests' command-line helper: parses `args` as the program's
// flags and returns CLI11's exit code (0 when they parse).

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace recstack::config {

inline int Parse(CLI::App& app, std::vector<std::string> args) {
  std::vector<char*> argv = {const_cast<char*>("prog")};
  for (auto& a : args) argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return e.get_exit_code();
  }
  return 0;
}

}  // namespace recstack::config
