// recstack-loadtest: an open-loop load generator for the stack (DESIGN §8).
//
//   recstack-loadtest --addr 127.0.0.1:50050 --rate 500 --duration 10s
//   recstack-loadtest --rate 200 --duration 5s --floor --json
//   recstack-loadtest --sweep 100:3000:100 --slo 50ms --floor --plot sweep.svg
//   recstack-loadtest --simulate-clicks .stack/data/synth --rate 100 --duration 30s
//   recstack-loadtest --simulate-clicks .stack/data/synth --position-bias 0.5 --json
//   recstack-loadtest --mix recommend=80,ingest=20 --acked-events acked.txt --json
//
// Requests leave on a schedule and latency counts from the scheduled send
// time (see runner.h). `--floor` drives an in-process echo service with the
// same schedule, so every figure comes with its ratio to a bare RPC.
//
// --simulate-clicks DIR clicks what the gateway recommends with the click
// model of DIR's ground truth: a simulated user examines the item at 1-based
// position p with probability (1/p)^ETA (--position-bias, default 1; 0 = no
// position bias) and clicks an examined item with its true probability.
// The report gives the CTR overall and per experiment variant
// (clicks.by_variant; "none" for answers without one), next to an oracle
// (each user's true top-k, in order) and random items under the same model.
//
// --acked-events FILE gives every ingest event the id lt<pid>-<unix ms>-<n>
// (JSON: events.id_prefix) and writes the acknowledged ones (the IngestEvents
// call returned OK and did not reject them), one per line: the id, a tab and
// the Unix ms at which the answer arrived. A fault drill checks them against
// the event log (scripts/drill.sh).
//
// Exit 2 on a command-line error (an unknown flag, a value that does not
// parse, --position-bias out of range); 1 when the run cannot go ahead or
// fails (the other flags' range checks included).
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/config/config.h"
#include "common/grpc/tls.h"
#include "common/log/log.h"
#include "loadtest/echo.h"
#include "loadtest/report.h"
#include "loadtest/runner.h"
#include "loadtest/server_stats.h"

namespace rl = recstack::loadtest;

namespace {

int Fail(const absl::Status& st, int code = 1) {
  std::fprintf(stderr, "recstack-loadtest: %s\n", std::string(st.message()).c_str());
  return code;
}

double Ratio(int64_t a, int64_t b) {
  return b > 0 ? std::round(static_cast<double>(a) / static_cast<double>(b) * 100) / 100 : 0;
}

void AddRatios(nlohmann::json& j, const rl::RunResult& stack, const rl::RunResult& floor) {
  j["p50_over_floor"] = Ratio(stack.latency.Percentile(0.5), floor.latency.Percentile(0.5));
  j["p99_over_floor"] = Ratio(stack.latency.Percentile(0.99), floor.latency.Percentile(0.99));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"recstack-loadtest: open-loop load against the recstack gateway or one service"};
  rl::RunOptions o;
  std::string target = "gateway", arrivals = "constant", duration = "10s", warmup = "2s",
              timeout = "10s", mix = "recommend=100", dataset, clicks_dir, csv, sweep,
              slo = "100ms", plot;
  int64_t users = 5000, items = 2000;
  bool json = false, with_floor = false;
  double max_error_ratio = 0.001;
  recstack::config::TlsConfig tls;
  recstack::config::AddTlsFlags(app, &tls, recstack::config::TlsRole::kClient);
  app.add_option("--addr", o.addr,
                 "the target: HOST:PORT, dns:///HOST:PORT or ipv4:IP:PORT,IP:PORT,...; requests "
                 "go round-robin over every address (several gateways)")
      ->capture_default_str();
  app.add_option("--target", target, "gateway, retrieval, ranking, ingestion, or floor (echo only)")
      ->capture_default_str();
  app.add_option("--rate", o.rate, "requests per second")->capture_default_str();
  app.add_option("--api-key", o.api_key, "send this API key (x-api-key) on every call")
      ->envname("RECSTACK_API_KEY");
  app.add_option("--arrivals", arrivals, "constant or poisson")->capture_default_str();
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
  app.add_option("--dataset", dataset,
                 "users and items from a data set: a `recstack datagen` dir or user,item CSV");
  app.add_option("--users", users, "without --dataset: ids u0..u{N-1}")->capture_default_str();
  app.add_option("--items", items, "without --dataset: ids i0..i{N-1}")->capture_default_str();
  app.add_option("--ingest-batch", o.ingest_batch, "events per IngestEvents")
      ->capture_default_str();
  app.add_option("--rank-candidates", o.rank_candidates, "candidates per Rank (--target ranking)")
      ->capture_default_str();
  app.add_option("--max-inflight", o.max_inflight, "requests in flight before refusing locally")
      ->capture_default_str();
  app.add_flag("--json", json, "print one JSON object");
  app.add_option("--csv", csv, "also write one CSV row per run to this file");
  app.add_option("--sweep", sweep, "FROM:TO:STEP: step the rate and report the knee");
  app.add_option("--slo", slo, "p99 bound of the knee")->capture_default_str();
  app.add_option("--max-error-ratio", max_error_ratio, "errors/requests allowed at the knee")
      ->capture_default_str();
  app.add_option("--plot", plot, "with --sweep: write this .svg or .png (gnuplot)");
  app.add_flag("--floor", with_floor, "also run the same load against an in-process echo service");
  app.add_option("--floor-response-bytes", o.echo_response_bytes, "padding of each echo answer")
      ->capture_default_str();
  std::string then, redis_url, metrics_spec, acked_file;
  double max_degraded_ratio = 0.01;
  app.add_option("--then", then,
                 "more phases after --duration, measured too: RATE:DURATION[,RATE:DURATION...], "
                 "e.g. 2000:20s,500:5s (an overload, then the recovery)");
  app.add_flag("--timeline", o.timeline,
               "per-second figures of the measured window (JSON key timeline)");
  app.add_option(
         "--max-degraded-ratio", max_degraded_ratio,
         "degraded answers/requests allowed at the knee (a fallback is not the full answer)")
      ->capture_default_str();
  app.add_option("--redis-url", redis_url,
                 "also report the Redis commands per request (INFO commandstats before and after)");
  app.add_option("--metrics", metrics_spec,
                 "also report CPU microseconds per request of each service: "
                 "NAME=HOST:PORT,... of their /metrics (process_cpu_seconds_total)");
  app.add_option("--acked-events", acked_file,
                 "give ingest events ids and write the acknowledged ones (OK and not rejected) "
                 "to this file, one per line: ID<tab>UNIX_MS of the answer");
  app.add_option("--simulate-clicks", clicks_dir,
                 "a `recstack datagen` dir: click recommended items with the true probability");
  app.add_option("--position-bias", o.position_bias,
                 "with --simulate-clicks: position p (1-based) is examined with probability "
                 "(1/p)^ETA, 0-10; 0 = no position bias")
      ->capture_default_str();
  if (int rc = recstack::config::ParseOrExit(app, argc, argv); rc >= 0) return rc;
  // The in-process echo server logs like a service; only its problems matter here.
  recstack::log::Init("recstack-loadtest", "warn");
  // Checked again by RunOptions::Validate; here it is a usage error (exit 2),
  // caught before the ground truth is loaded.
  if (auto st = rl::ValidatePositionBias(o.position_bias); !st.ok()) return Fail(st, 2);

  auto parse_ms = [](const std::string& flag,
                     const std::string& v) -> absl::StatusOr<std::chrono::milliseconds> {
    auto d = recstack::config::ParseDuration(v);
    if (!d.ok())
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", d.status().message()));
    return *d;
  };
  if (auto st = recstack::config::ValidateTarget("addr", o.addr); !st.ok()) return Fail(st, 2);
  if (auto st = recstack::config::ValidateTls(tls, recstack::config::TlsRole::kClient); !st.ok())
    return Fail(st, 2);
  if (tls.enabled()) {
    auto credentials = recstack::grpcutil::MakeChannelCredentials(tls);
    if (!credentials.ok()) return Fail(credentials.status(), 2);
    o.credentials = std::move(*credentials);
  }
  auto t = rl::ParseTarget(target);
  if (!t.ok()) return Fail(t.status());
  o.target = *t;
  if (arrivals != "constant" && arrivals != "poisson") {
    return Fail(absl::InvalidArgumentError("--arrivals must be constant or poisson"));
  }
  o.poisson = arrivals == "poisson";
  for (auto [flag, text, out] :
       {std::tuple{"duration", &duration, &o.duration}, std::tuple{"warmup", &warmup, &o.warmup},
        std::tuple{"timeout", &timeout, &o.timeout}}) {
    auto d = parse_ms(flag, *text);
    if (!d.ok()) return Fail(d.status());
    *out = *d;
  }
  rl::KneeRule rule;
  {
    auto d = parse_ms("slo", slo);
    if (!d.ok()) return Fail(d.status());
    rule.slo = std::chrono::duration_cast<std::chrono::microseconds>(*d);
    rule.max_error_ratio = max_error_ratio;
    rule.max_degraded_ratio = max_degraded_ratio;
  }
  for (absl::string_view piece : absl::StrSplit(then, ',', absl::SkipEmpty())) {
    const std::string phase(piece.data(), piece.size());
    const size_t colon = phase.find(':');
    double rate = 0;
    if (colon == std::string::npos || !absl::SimpleAtod(phase.substr(0, colon), &rate)) {
      return Fail(
          absl::InvalidArgumentError(absl::StrCat("--then: '", phase, "' is not RATE:DURATION")));
    }
    if (!(rate >= 0.1 && rate <= 1e6)) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--then: rate must be in [0.1, 1000000], got ", rate)));
    }
    auto d = parse_ms("then", phase.substr(colon + 1));
    if (!d.ok()) return Fail(d.status());
    if (d->count() <= 0)
      return Fail(absl::InvalidArgumentError("--then: a phase must last more than 0"));
    o.then.push_back({rate, *d});
  }
  if (o.then.size() > 20) return Fail(absl::InvalidArgumentError("--then: at most 20 phases"));
  std::map<std::string, std::string> metrics_targets;
  if (!metrics_spec.empty()) {
    auto mt = rl::ParseMetricsTargets(metrics_spec);
    if (!mt.ok()) return Fail(mt.status());
    metrics_targets = std::move(*mt);
  }
  const bool server_stats = !redis_url.empty() || !metrics_targets.empty();
  if (!acked_file.empty()) {
    if (!sweep.empty()) {
      return Fail(absl::InvalidArgumentError("--acked-events: not with --sweep (one run only)"));
    }
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    o.event_id_prefix = absl::StrCat("lt", getpid(), "-", now_ms, "-");
  }
  if (o.target == rl::Target::kFloor) mix = "recommend=100";
  auto m = rl::Mix::Parse(mix);
  if (!m.ok()) return Fail(m.status());
  o.mix = *m;

  std::optional<recstack::data::GroundTruth> truth;
  if (!clicks_dir.empty()) {
    auto gt = recstack::data::GroundTruth::Load(clicks_dir);
    if (!gt.ok()) return Fail(gt.status());
    truth = std::move(*gt);
    o.truth = &*truth;
    if (dataset.empty()) dataset = clicks_dir;
  }
  if (users < 1 || users > 100'000'000 || items < 1 || items > 100'000'000) {
    return Fail(absl::InvalidArgumentError("--users and --items must be in [1, 100000000]"));
  }
  absl::StatusOr<rl::Catalog> catalog =
      dataset.empty() ? absl::StatusOr<rl::Catalog>(rl::Catalog::Synthetic(users, items))
                      : rl::Catalog::FromDataset(dataset);
  if (!catalog.ok()) return Fail(catalog.status());
  if (auto st = o.Validate(); !st.ok()) return Fail(st);

  // The floor (and --target floor) run against an in-process echo service.
  std::unique_ptr<rl::EchoServer> echo;
  rl::RunOptions floor_o = o;
  if (with_floor || o.target == rl::Target::kFloor) {
    auto s = rl::EchoServer::Start();
    if (!s.ok()) return Fail(s.status());
    echo = std::move(*s);
    floor_o.target = rl::Target::kFloor;
    floor_o.addr = echo->address();
    floor_o.truth = nullptr;
    // The echo service is plaintext: with --tls-* the ratios include TLS.
    floor_o.credentials = nullptr;
    floor_o.mix = rl::Mix{};
    if (o.target == rl::Target::kFloor) {
      o = floor_o;
      with_floor = false;
    }
  }

  std::string csv_text = rl::CsvHeader();
  auto say = [&](const std::string& line) {
    if (!json) std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  auto run = [&](const rl::RunOptions& ro, double rate,
                 std::string_view kind) -> absl::StatusOr<rl::RunResult> {
    rl::RunOptions r = ro;
    r.rate = rate;
    auto res = rl::Run(r, *catalog);
    if (res.ok()) {
      csv_text += rl::CsvRow(kind, *res);
      say(res->Summary());
    }
    return res;
  };

  nlohmann::json out;
  out["config"] = {{"addr", o.addr},
                   {"tls", o.credentials != nullptr},
                   {"target", rl::TargetName(o.target)},
                   {"arrivals", arrivals},
                   {"duration_s", o.duration.count() / 1000.0},
                   {"warmup_s", o.warmup.count() / 1000.0},
                   {"connections", o.connections},
                   {"threads", o.threads},
                   {"mix", o.mix.ToString()},
                   {"users", catalog->users.size()},
                   {"items", catalog->items.size()},
                   {"zipf", o.zipf},
                   {"k", o.k}};

  // Server-side cost of one run, when asked for.
  auto measure = [&](const rl::RunOptions& ro, double rate, std::string_view kind,
                     nlohmann::json* into) -> absl::StatusOr<rl::RunResult> {
    if (!server_stats) return run(ro, rate, kind);
    auto before = rl::TakeSnapshot(redis_url, metrics_targets);
    if (!before.ok()) return before.status();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = run(ro, rate, kind);
    if (!r.ok()) return r;
    auto after = rl::TakeSnapshot(redis_url, metrics_targets);
    if (!after.ok()) return after.status();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json per = rl::PerRequest(*before, *after, r->sent, secs);
    if (per.contains("redis_commands_per_request")) {
      say(absl::StrFormat("redis: %.2f commands per request; catalogue-sized commands %.3f/s",
                          per["redis_commands_per_request"].get<double>(),
                          per["redis_catalogue_sized_per_second"].get<double>()));
    }
    if (per.contains("cpu_us_per_request"))
      say(absl::StrCat("cpu us per request: ", per["cpu_us_per_request"].dump()));
    into->update(per);
    return r;
  };

  if (sweep.empty()) {
    nlohmann::json stats = nlohmann::json::object();
    auto r = measure(o, o.rate, o.target == rl::Target::kFloor ? "floor" : "stack", &stats);
    if (!r.ok()) return Fail(r.status());
    if (!acked_file.empty()) {
      std::ofstream f(acked_file, std::ios::trunc);
      for (const rl::AckedEvent& e : r->acked_events) f << e.id << '\t' << e.unix_ms << '\n';
      if (!f.flush()) {
        return Fail(absl::UnavailableError(absl::StrCat("cannot write ", acked_file)));
      }
    }
    out.update(r->ToJson());
    out.update(stats);
    if (with_floor) {
      auto f = run(floor_o, o.rate, "floor");
      if (!f.ok()) return Fail(f.status());
      out["floor"] = f->ToJson();
      AddRatios(out, *r, *f);
      say(absl::StrFormat("stack/floor: p50 x%.2f, p99 x%.2f", out["p50_over_floor"].get<double>(),
                          out["p99_over_floor"].get<double>()));
    }
  } else {
    auto rates = rl::ParseSweep(sweep);
    if (!rates.ok()) return Fail(rates.status());
    // Steps until two in a row miss the SLO: past the knee the queue only grows.
    // `extend`: when every step met the SLO, go on in steps of x1.5 (at
    // most 12 more) so the floor's knee is found even above the range.
    auto do_sweep = [&](const rl::RunOptions& ro, std::string_view kind,
                        bool extend) -> absl::StatusOr<std::vector<rl::RunResult>> {
      std::vector<rl::RunResult> steps;
      int misses = 0;
      std::vector<double> plan = *rates;
      for (size_t i = 0; i < plan.size() && misses < 2; ++i) {
        auto r = run(ro, plan[i], kind);
        if (!r.ok()) return r.status();
        misses = rl::WithinSlo(*r, rule) ? 0 : misses + 1;
        steps.push_back(std::move(*r));
        if (extend && misses == 0 && i + 1 == plan.size() && plan.size() < rates->size() + 12) {
          plan.push_back(std::round(plan.back() * 1.5));
        }
      }
      return steps;
    };
    say(absl::StrFormat("sweep of %s: %s, p99 SLO %dus", rl::TargetName(o.target), sweep,
                        rule.slo.count()));
    auto steps = do_sweep(o, "stack", false);
    if (!steps.ok()) return Fail(steps.status());
    std::vector<rl::RunResult> floor_steps;
    if (with_floor) {
      say("sweep of the floor (echo):");
      auto f = do_sweep(floor_o, "floor", true);
      if (!f.ok()) return Fail(f.status());
      floor_steps = std::move(*f);
    }
    const std::optional<double> knee = rl::FindKnee(*steps, rule);
    nlohmann::json js = nlohmann::json::array(), jf = nlohmann::json::array();
    for (const auto& s : *steps) js.push_back(s.ToJson());
    for (const auto& s : floor_steps) jf.push_back(s.ToJson());
    out["sweep"] = std::move(js);
    out["slo_us"] = rule.slo.count();
    out["knee_rate"] = knee ? nlohmann::json(*knee) : nlohmann::json(nullptr);
    if (with_floor) {
      out["floor_sweep"] = std::move(jf);
      const auto fk = rl::FindKnee(floor_steps, rule);
      // A floor that never missed the SLO has its knee above the range.
      out["floor_knee_rate"] = fk ? nlohmann::json(*fk) : nlohmann::json(nullptr);
      out["floor_knee_above_range"] =
          !floor_steps.empty() && fk && *fk == floor_steps.back().target_rate;
      if (knee && fk) out["knee_over_floor"] = std::round(*knee / *fk * 1000) / 1000;
      if (fk) say(absl::StrFormat("floor knee: %.1f requests/s", *fk));
    }
    say(knee ? absl::StrFormat("knee: %.1f requests/s (p99 <= %dus)", *knee, rule.slo.count())
             : std::string("knee: none (the first step already misses the SLO)"));
    if (knee) {
      // The operating point a capacity plan would pick: half the knee.
      say(absl::StrFormat("at half the knee (%.1f/s):", *knee / 2));
      nlohmann::json stats = nlohmann::json::object();
      auto h = measure(o, *knee / 2, "stack-half-knee", &stats);
      if (!h.ok()) return Fail(h.status());
      nlohmann::json half = h->ToJson();
      half.update(stats);
      out.update(half);
      if (with_floor) {
        auto f = run(floor_o, *knee / 2, "floor-half-knee");
        if (!f.ok()) return Fail(f.status());
        half["floor"] = f->ToJson();
        AddRatios(half, *h, *f);
        AddRatios(out, *h, *f);
        out["floor"] = half["floor"];
        say(absl::StrFormat("stack/floor at half the knee: p50 x%.2f, p99 x%.2f",
                            half["p50_over_floor"].get<double>(),
                            half["p99_over_floor"].get<double>()));
      }
      out["half_knee"] = std::move(half);
    }
    if (!plot.empty()) {
      if (auto st = rl::WritePlot(plot, *steps, floor_steps, rule, knee); !st.ok()) return Fail(st);
      say(absl::StrCat("plot: ", plot));
    }
  }
  if (o.truth != nullptr) {
    const auto b =
        rl::ComputeClickBaselines(*o.truth, *catalog, o.zipf, o.k, 300, o.seed, o.position_bias);
    out["click_baselines"] = b.ToJson();
    if (out.contains("clicks")) {
      rl::AddShareOfOracle(out["clicks"], b.oracle_ctr);
      say(rl::ClickSummary(out["clicks"], b, o.k));
    }
  }
  if (!csv.empty()) {
    std::ofstream f(csv, std::ios::trunc);
    if (!(f << csv_text)) return Fail(absl::UnavailableError(absl::StrCat("cannot write ", csv)));
  }
  if (json) std::printf("%s\n", out.dump().c_str());
  return 0;
}
