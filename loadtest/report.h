#pragma once

// Rate sweeps and their reports: the knee (the highest offered rate whose
// p99 stays within the SLO with no more than a sliver of errors), CSV rows
// and a gnuplot chart.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "loadtest/runner.h"

namespace recstack::loadtest {

// A step passes when p99 <= slo, errors / scheduled <= max_error_ratio and
// degraded / scheduled <= max_degraded_ratio: a stack that answers from its
// fallback is not at the rate it can serve.
bool WithinSlo(const RunResult& r, const KneeRule& rule);

// The highest rate of a passing step that no failing step precedes; nullopt
// when the first step already fails.
std::optional<double> FindKnee(const std::vector<RunResult>& steps, const KneeRule& rule);

// The index of the median of `values` (the lower one of the two middle
// values when there is an even number of them; equal values count in their
// order); 0 when `values` is empty.
size_t MedianIndex(const std::vector<double>& values);

// CSV: a header and one row per run, `kind` naming the series ("stack",
// "floor").
std::string CsvHeader();
std::string CsvRow(std::string_view kind, const RunResult& r);

// Writes `path` (.svg, or .png) with gnuplot: p50 and p99 against the
// offered rate for the stack and, when given, the floor; the SLO and the
// knee. Also leaves `path`.dat and `path`.gp beside it.
absl::Status WritePlot(const std::string& path, const std::vector<RunResult>& stack,
                       const std::vector<RunResult>& floor, const KneeRule& rule,
                       std::optional<double> knee);

}  // namespace recstack::loadtest
