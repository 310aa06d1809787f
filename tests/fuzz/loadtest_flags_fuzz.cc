// recstack-loadtest's command line (loadtest/flags.h) on any arguments: one
// argument per line of the input (the program name is implied). Whatever
// the arguments, the parser answers run, help, or an error with the exit
// code main.cc documents, and what it accepts passes the run's own checks
// (RunOptions::Validate) with a sweep of at most 200 finite, positive rates.
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "loadtest/flags.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recstack::fuzz::Input in(data, size);
  std::vector<std::string> args;
  for (std::string_view a : recstack::fuzz::SplitAll(in.Take(), "\n")) args.emplace_back(a);
  if (args.size() == 1 && args[0].empty()) args.clear();
  std::ostringstream out, err;
  const recstack::loadtest::CommandLine c = recstack::loadtest::ParseCommandLine(args, out, err);
  FUZZ_CHECK(c.exit_code >= -1 && c.exit_code <= 2);
  if (c.exit_code > 0) FUZZ_CHECK(!c.error.empty() || !err.str().empty());
  if (c.exit_code != -1) return 0;
  const recstack::loadtest::Flags& f = c.flags;
  FUZZ_CHECK(f.run.Validate().ok());
  FUZZ_CHECK(f.arrivals == "constant" || f.arrivals == "poisson");
  FUZZ_CHECK(f.run.poisson == (f.arrivals == "poisson"));
  FUZZ_CHECK(f.users >= 1 && f.items >= 1);
  FUZZ_CHECK(f.rule.slo.count() >= 0);
  FUZZ_CHECK(f.sweep.empty() == f.sweep_rates.empty());
  FUZZ_CHECK(f.sweep_rates.size() <= 200);
  for (double r : f.sweep_rates) FUZZ_CHECK(std::isfinite(r) && r > 0);
  for (const auto& [rate, length] : f.run.then) FUZZ_CHECK(rate >= 0.1 && length.count() > 0);
  return 0;
}
