#include "loadtest/flags.h"

#include <CLI/CLI.hpp>

#include <cmath>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config/config.h"
#include "common/redis/client.h"
#include "loadtest/server_stats.h"

namespace recstack::loadtest {
namespace {

CommandLine Exit(int code, const absl::Status& st) {
  CommandLine c;
  c.exit_code = code;
  c.error = std::string(st.message());
  return c;
}

}  // namespace

CommandLine ParseCommandLine(const std::vector<std::string>& args, std::ostream& out,
                             std::ostream& err) {
  CLI::App app{"recstack-loadtest: open-loop load against the recstack gateway or one service"};
  Flags f;
  RunOptions& o = f.run;
  std::string target = "gateway", duration = "10s", warmup = "2s", timeout = "10s",
              mix = "recommend=100", slo = "100ms", then, metrics_spec;
  double max_error_ratio = 0.001, max_degraded_ratio = 0.01;
  config::AddTlsFlags(app, &f.tls, config::TlsRole::kClient);
  app.add_option("--addr", o.addr,
                 "the target: HOST:PORT, dns:///HOST:PORT or ipv4:IP:PORT,IP:PORT,...; requests "
                 "go round-robin over every address (several gateways)")
      ->capture_default_str();
  app.add_option("--target", target, "gateway, retrieval, ranking, ingestion, or floor (echo only)")
      ->capture_default_str();
  app.add_option("--rate", o.rate, "requests per second")->capture_default_str();
  app.add_option("--api-key", o.api_key, "send this API key (x-api-key) on every call")
      ->envname("RECSTACK_API_KEY");
  app.add_option("--arrivals", f.arrivals, "constant or poisson")->capture_default_str();
  app.add_option("--duration", duration, "measured time per run (e.g. 10s)")->capture_default_str();
  app.add_option("--warmup", warmup, "unmeasured time before it")->capture_default_str();
  app.add_option("--connections", o.connections, "HTTP/2 connections (1-64)")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "completion-queue threads (1-64)")->capture_default_str();
  app.add_option("--k", o.k, "items per Recommend / SimilarItems")->capture_default_str();
  app.add_option("--timeout", timeout, "per-request deadline")->capture_default_str();
  app.add_option("--mix", mix, "operation weights, e.g. recommend=90,ingest=5,similar=5")
      ->capture_default_str();
  app.add_option("--zipf", o.zipf, "skew of users and items (most active first); 0 = uniform")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of arrivals, users, items and clicks")
      ->capture_default_str();
  app.add_option("--dataset", f.dataset,
                 "users and items from a data set: a `recstack datagen` dir or user,item CSV");
  app.add_option("--users", f.users, "without --dataset: ids u0..u{N-1}")->capture_default_str();
  app.add_option("--items", f.items, "without --dataset: ids i0..i{N-1}")->capture_default_str();
  app.add_option("--ingest-batch", o.ingest_batch, "events per IngestEvents")
      ->capture_default_str();
  app.add_option("--rank-candidates", o.rank_candidates, "candidates per Rank (--target ranking)")
      ->capture_default_str();
  app.add_option("--max-inflight", o.max_inflight, "requests in flight before refusing locally")
      ->capture_default_str();
  app.add_flag("--json", f.json, "print one JSON object");
  app.add_option("--csv", f.csv, "also write one CSV row per run to this file");
  app.add_option("--sweep", f.sweep, "FROM:TO:STEP: step the rate and report the knee");
  app.add_option("--slo", slo, "p99 bound of the knee")->capture_default_str();
  app.add_option("--max-error-ratio", max_error_ratio, "errors/requests allowed at the knee")
      ->capture_default_str();
  app.add_option("--plot", f.plot, "with --sweep: write this .svg or .png (gnuplot)");
  app.add_option("--half-knee-repeats", f.half_knee_repeats,
                 "with --sweep: run half the knee this often (1-20), each time the stack then "
                 "the floor, and report the pair with the median p99 ratio")
      ->capture_default_str();
  app.add_flag("--floor", f.with_floor,
               "also run the same load against an in-process echo service");
  app.add_option("--floor-response-bytes", o.echo_response_bytes, "padding of each echo answer")
      ->capture_default_str();
  app.add_option("--then", then,
                 "more phases after --duration, measured too: RATE:DURATION[,RATE:DURATION...], "
                 "e.g. 2000:20s,500:5s (an overload, then the recovery)");
  app.add_flag("--timeline", o.timeline,
               "per-second figures of the measured window (JSON key timeline)");
  app.add_option(
         "--max-degraded-ratio", max_degraded_ratio,
         "degraded answers/requests allowed at the knee (a fallback is not the full answer)")
      ->capture_default_str();
  app.add_option("--redis-url", f.redis_url,
                 "also report the Redis commands per request (INFO commandstats before and after)");
  app.add_option("--metrics", metrics_spec,
                 "also report CPU microseconds per request of each service: "
                 "NAME=HOST:PORT,... of their /metrics (process_cpu_seconds_total)");
  app.add_option("--acked-events", f.acked_file,
                 "give ingest events ids and write the acknowledged ones (OK and not rejected) "
                 "to this file, one per line: ID<tab>UNIX_MS of the answer");
  app.add_option("--simulate-clicks", f.clicks_dir,
                 "a `recstack datagen` dir: click recommended items with the true probability");
  app.add_option("--position-bias", o.position_bias,
                 "with --simulate-clicks: position p (1-based) is examined with probability "
                 "(1/p)^ETA, 0-10; 0 = no position bias")
      ->capture_default_str();

  std::vector<const char*> argv = {"recstack-loadtest"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  if (int rc = config::ParseOrExit(app, static_cast<int>(argv.size()), argv.data(), out, err);
      rc >= 0) {
    CommandLine c;
    c.exit_code = rc;
    return c;
  }
  // Usage errors (exit 2), caught before anything is loaded.
  if (auto st = ValidatePositionBias(o.position_bias); !st.ok()) return Exit(2, st);
  if (auto st = config::ValidateTarget("addr", o.addr); !st.ok()) return Exit(2, st);

  auto parse_ms = [](const std::string& flag,
                     const std::string& v) -> absl::StatusOr<std::chrono::milliseconds> {
    auto d = config::ParseDuration(v);
    if (!d.ok())
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", d.status().message()));
    return *d;
  };
  auto t = ParseTarget(target);
  if (!t.ok()) return Exit(1, t.status());
  o.target = *t;
  if (f.arrivals != "constant" && f.arrivals != "poisson") {
    return Exit(1, absl::InvalidArgumentError("--arrivals must be constant or poisson"));
  }
  o.poisson = f.arrivals == "poisson";
  for (auto [flag, text, into] :
       {std::tuple{"duration", &duration, &o.duration}, std::tuple{"warmup", &warmup, &o.warmup},
        std::tuple{"timeout", &timeout, &o.timeout}}) {
    auto d = parse_ms(flag, *text);
    if (!d.ok()) return Exit(1, d.status());
    *into = *d;
  }
  {
    auto d = parse_ms("slo", slo);
    if (!d.ok()) return Exit(1, d.status());
    f.rule.slo = std::chrono::duration_cast<std::chrono::microseconds>(*d);
    f.rule.max_error_ratio = max_error_ratio;
    f.rule.max_degraded_ratio = max_degraded_ratio;
  }
  for (absl::string_view piece : absl::StrSplit(then, ',', absl::SkipEmpty())) {
    const std::string phase(piece.data(), piece.size());
    const size_t colon = phase.find(':');
    double rate = 0;
    if (colon == std::string::npos || !absl::SimpleAtod(phase.substr(0, colon), &rate)) {
      return Exit(1, absl::InvalidArgumentError(
                         absl::StrCat("--then: '", phase, "' is not RATE:DURATION")));
    }
    if (!(rate >= 0.1 && rate <= 1e6)) {
      return Exit(1, absl::InvalidArgumentError(
                         absl::StrCat("--then: rate must be in [0.1, 1000000], got ", rate)));
    }
    auto d = parse_ms("then", phase.substr(colon + 1));
    if (!d.ok()) return Exit(1, d.status());
    if (d->count() <= 0)
      return Exit(1, absl::InvalidArgumentError("--then: a phase must last more than 0"));
    o.then.push_back({rate, *d});
  }
  if (o.then.size() > 20) return Exit(1, absl::InvalidArgumentError("--then: at most 20 phases"));
  if (!metrics_spec.empty()) {
    auto mt = ParseMetricsTargets(metrics_spec);
    if (!mt.ok()) return Exit(1, mt.status());
    f.metrics_targets = std::move(*mt);
  }
  if (!f.redis_url.empty()) {
    if (auto r = redis::ParseUrl(f.redis_url); !r.ok()) {
      return Exit(1,
                  absl::InvalidArgumentError(absl::StrCat("--redis-url: ", r.status().message())));
    }
  }
  if (o.target == Target::kFloor) mix = "recommend=100";
  auto m = Mix::Parse(mix);
  if (!m.ok()) return Exit(1, m.status());
  o.mix = *m;
  if (!f.clicks_dir.empty() && f.dataset.empty()) f.dataset = f.clicks_dir;
  if (f.users < 1 || f.users > 100'000'000 || f.items < 1 || f.items > 100'000'000) {
    return Exit(1, absl::InvalidArgumentError("--users and --items must be in [1, 100000000]"));
  }
  if (!f.sweep.empty()) {
    auto rates = ParseSweep(f.sweep);
    if (!rates.ok()) return Exit(1, rates.status());
    f.sweep_rates = *std::move(rates);
    if (f.half_knee_repeats < 1 || f.half_knee_repeats > 20) {
      return Exit(1, absl::InvalidArgumentError(absl::StrCat(
                         "--half-knee-repeats must be in [1, 20], got ", f.half_knee_repeats)));
    }
    if (!f.acked_file.empty()) {
      return Exit(1, absl::InvalidArgumentError("--acked-events: not with --sweep (one run only)"));
    }
  }
  if (auto st = o.Validate(); !st.ok()) return Exit(1, st);
  CommandLine c;
  c.flags = std::move(f);
  return c;
}

}  // namespace recstack::loadtest
