#pragma once

// recstack-loadtest's command line, parsed and checked in one pure function:
// no socket, no file (the data set and the ground truth are read by main
// afterwards). main.cc calls it; tests and the fuzzer
// (tests/fuzz/loadtest_flags_fuzz.cc) call it with any arguments.

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "common/config/tls.h"
#include "loadtest/options.h"

namespace recstack::loadtest {

// Everything the flags say, checked (RunOptions::Validate passed, except
// for what needs the ground truth: `run.truth` is set by main).
struct Flags {
  RunOptions run;
  KneeRule rule;
  std::string arrivals = "constant";  // constant | poisson (run.poisson)
  std::string dataset;                // --dataset, or --simulate-clicks' directory
  std::string clicks_dir;             // --simulate-clicks
  std::string csv, plot, redis_url;
  std::string acked_file;           // --acked-events: where the acknowledged event ids go
  config::TlsConfig tls;            // --tls-cert, --tls-key, --tls-ca (main checks the files)
  std::string sweep;                // as given, for the report
  std::vector<double> sweep_rates;  // --sweep FROM:TO:STEP; empty: one run
  int half_knee_repeats = 5;        // --half-knee-repeats: pairs at half the knee
  std::map<std::string, std::string> metrics_targets;  // --metrics NAME=HOST:PORT
  int64_t users = 5000, items = 2000;
  bool json = false, with_floor = false;
};

// What to do: run with `flags`, or exit with `exit_code` after printing
// `error` (empty when CLI11 has printed already, e.g. the help).
struct CommandLine {
  int exit_code = -1;  // -1 run; 0 --help; 2 a usage error; 1 a value out of range
  std::string error;
  Flags flags;
};

// `args` without the program name. CLI11's help and usage messages go to
// `out` and `err`.
CommandLine ParseCommandLine(const std::vector<std::string>& args, std::ostream& out,
                             std::ostream& err);

}  // namespace recstack::loadtest
