#include "loadtest/report.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace recstack::loadtest {
namespace {

double Us(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

bool WithinSlo(const RunResult& r, const KneeRule& rule) {
  const double slo_ns = static_cast<double>(rule.slo.count()) * 1000.0;
  const double error_ratio = r.scheduled > 0 ? static_cast<double>(r.errors) / r.scheduled : 1.0;
  const double degraded_ratio =
      r.scheduled > 0 ? static_cast<double>(r.degraded) / r.scheduled : 1.0;
  return r.completed > 0 && static_cast<double>(r.latency.Percentile(0.99)) <= slo_ns &&
         error_ratio <= rule.max_error_ratio && degraded_ratio <= rule.max_degraded_ratio;
}

std::optional<double> FindKnee(const std::vector<RunResult>& steps, const KneeRule& rule) {
  std::optional<double> knee;
  for (const RunResult& r : steps) {
    if (!WithinSlo(r, rule)) break;
    knee = r.target_rate;
  }
  return knee;
}

size_t MedianIndex(const std::vector<double>& values) {
  if (values.empty()) return 0;
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  return order[(order.size() - 1) / 2];
}

std::string CsvHeader() {
  return "kind,target,rate,achieved_rate,scheduled,completed,errors,p50_us,p90_us,p99_us,p999_us,"
         "max_us,mean_us\n";
}

std::string CsvRow(std::string_view kind, const RunResult& r) {
  const LatencyHistogram& h = r.latency;
  return absl::StrFormat("%s,%s,%.1f,%.1f,%d,%d,%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f\n", kind,
                         TargetName(r.target), r.target_rate, r.achieved_rate, r.scheduled,
                         r.completed, r.errors, Us(h.Percentile(0.5)), Us(h.Percentile(0.9)),
                         Us(h.Percentile(0.99)), Us(h.Percentile(0.999)), Us(h.max_ns()),
                         h.mean_ns() / 1000.0);
}

absl::Status WritePlot(const std::string& path, const std::vector<RunResult>& stack,
                       const std::vector<RunResult>& floor, const KneeRule& rule,
                       std::optional<double> knee) {
  const std::string dat = path + ".dat", gp = path + ".gp";
  {
    std::ofstream d(dat, std::ios::trunc);
    if (!d) return absl::UnavailableError(absl::StrCat("cannot write ", dat));
    // Two gnuplot data blocks: index 0 the stack, index 1 the floor.
    for (const auto* series : {&stack, &floor}) {
      d << "# rate p50_us p99_us achieved\n";
      for (const RunResult& r : *series) {
        d << r.target_rate << ' ' << Us(r.latency.Percentile(0.5)) << ' '
          << Us(r.latency.Percentile(0.99)) << ' ' << r.achieved_rate << '\n';
      }
      if (series->empty()) d << "nan nan nan nan\n";
      d << "\n\n";
    }
  }
  const bool png = path.size() > 4 && path.substr(path.size() - 4) == ".png";
  std::ofstream g(gp, std::ios::trunc);
  if (!g) return absl::UnavailableError(absl::StrCat("cannot write ", gp));
  g << (png ? "set terminal pngcairo size 1000,600\n" : "set terminal svg size 1000,600 dynamic\n");
  g << "set output '" << path << "'\n"
    << "set title 'recstack-loadtest: latency against offered rate (open loop)'\n"
    << "set xlabel 'offered rate (requests/s)'\nset ylabel 'latency (us)'\n"
    << "set logscale y\nset grid\nset key top left\n";
  g << "set arrow from graph 0, first " << rule.slo.count() << " to graph 1, first "
    << rule.slo.count() << " nohead dashtype 2 lc rgb 'red'\n";
  g << "set label 'SLO p99 " << rule.slo.count() << " us' at graph 0.02, first "
    << rule.slo.count() * 1.15 << " tc rgb 'red'\n";
  if (knee) {
    g << "set arrow from first " << *knee << ", graph 0 to first " << *knee
      << ", graph 1 nohead dashtype 3 lc rgb 'black'\n"
      << "set label 'knee " << *knee << "/s' at first " << *knee
      << ", graph 0.95 right offset -1,0\n";
  }
  g << "plot '" << dat << "' index 0 using 1:2 with linespoints title 'stack p50', \\\n"
    << "     '" << dat << "' index 0 using 1:3 with linespoints title 'stack p99'";
  if (!floor.empty()) {
    g << ", \\\n     '" << dat << "' index 1 using 1:2 with linespoints title 'floor p50', \\\n"
      << "     '" << dat << "' index 1 using 1:3 with linespoints title 'floor p99'";
  }
  g << "\n";
  g.close();
  const std::string cmd = absl::StrCat("gnuplot ", ShellQuote(gp), " 2>&1");
  if (std::system(cmd.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("gnuplot failed on ", gp, " (is it installed? apt-get install gnuplot-nox)"));
  }
  return absl::OkStatus();
}

}  // namespace recstack::loadtest
