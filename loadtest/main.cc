// recstack-loadtest: an open-loop load generator for the stack (DESIGN §8).
//
//   recstack-loadtest --addr 127.0.0.1:50050 --rate 500 --duration 10s
//   recstack-loadtest --rate 200 --duration 5s --floor --json
//   recstack-loadtest --sweep 100:3000:100 --slo 50ms --floor --plot sweep.svg
//   recstack-loadtest --sweep 100:3000:100 --slo 50ms --floor --half-knee-repeats 5
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
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/tls.h"
#include "common/log/log.h"
#include "loadtest/echo.h"
#include "loadtest/flags.h"
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
  rl::CommandLine cl =
      rl::ParseCommandLine(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
  if (cl.exit_code >= 0) {
    return cl.error.empty() ? cl.exit_code
                            : Fail(absl::InvalidArgumentError(cl.error), cl.exit_code);
  }
  // The in-process echo server logs like a service; only its problems matter here.
  recstack::log::Init("recstack-loadtest", "warn");
  // As every server does (common/grpc/server.cc): Debian's Abseil updates a
  // global lock-order graph on each lock of gRPC's mutexes, 6% of this
  // client's CPU per Recommend, taken from the stack it shares the cores with.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  rl::Flags& flags = cl.flags;
  rl::RunOptions& o = flags.run;
  const rl::KneeRule& rule = flags.rule;
  const std::string& arrivals = flags.arrivals;
  const std::string& sweep = flags.sweep;
  const std::string& redis_url = flags.redis_url;
  const std::string& csv = flags.csv;
  const std::string& plot = flags.plot;
  const auto& metrics_targets = flags.metrics_targets;
  const bool json = flags.json;
  const bool with_floor = flags.with_floor;
  const bool server_stats = !redis_url.empty() || !metrics_targets.empty();
  if (auto st = recstack::config::ValidateTls(flags.tls, recstack::config::TlsRole::kClient);
      !st.ok())
    return Fail(st, 2);
  if (flags.tls.enabled()) {
    auto credentials = recstack::grpcutil::MakeChannelCredentials(flags.tls);
    if (!credentials.ok()) return Fail(credentials.status(), 2);
    o.credentials = std::move(*credentials);
  }
  const std::string& acked_file = flags.acked_file;
  if (!acked_file.empty()) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    o.event_id_prefix = absl::StrCat("lt", getpid(), "-", now_ms, "-");
  }

  std::optional<recstack::data::GroundTruth> truth;
  if (!flags.clicks_dir.empty()) {
    auto gt = recstack::data::GroundTruth::Load(flags.clicks_dir);
    if (!gt.ok()) return Fail(gt.status());
    truth = std::move(*gt);
    o.truth = &*truth;
  }
  absl::StatusOr<rl::Catalog> catalog =
      flags.dataset.empty()
          ? absl::StatusOr<rl::Catalog>(rl::Catalog::Synthetic(flags.users, flags.items))
          : rl::Catalog::FromDataset(flags.dataset);
  if (!catalog.ok()) return Fail(catalog.status());
  // Again with the ground truth in place (--simulate-clicks needs the gateway).
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
    // --target floor --floor compares the echo with itself: an A/A run
    // whose ratios show how far the machine's noise alone moves them.
    if (o.target == rl::Target::kFloor) o = floor_o;
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
    const std::vector<double>* rates = &flags.sweep_rates;
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
      // `repeats` pairs, the stack then the floor, back to back: one 5 s p99
      // is the 1% tail of a few thousand answers, and on a shared machine
      // the floor's alone moved 4x between runs. The pair with the median
      // p99 ratio is the one reported; every pair is listed.
      const int repeats = flags.half_knee_repeats;
      say(absl::StrFormat("at half the knee (%.1f/s), %d time%s:", *knee / 2, repeats,
                          repeats == 1 ? "" : "s"));
      struct Pair {
        rl::RunResult stack;
        nlohmann::json stats;
        std::optional<rl::RunResult> floor;
      };
      std::vector<Pair> pairs;
      for (int i = 0; i < repeats; ++i) {
        Pair p{.stats = nlohmann::json::object()};
        auto h = measure(o, *knee / 2, "stack-half-knee", &p.stats);
        if (!h.ok()) return Fail(h.status());
        p.stack = std::move(*h);
        if (with_floor) {
          auto f = run(floor_o, *knee / 2, "floor-half-knee");
          if (!f.ok()) return Fail(f.status());
          p.floor = std::move(*f);
        }
        pairs.push_back(std::move(p));
      }
      // What the median is taken of: the ratio to the floor, or without a
      // floor the stack's own p99.
      std::vector<double> keys;
      for (const Pair& p : pairs) {
        const double p99 = static_cast<double>(p.stack.latency.Percentile(0.99));
        keys.push_back(p.floor ? p99 / std::max<double>(1, p.floor->latency.Percentile(0.99))
                               : p99);
      }
      const Pair& mid = pairs[rl::MedianIndex(keys)];
      nlohmann::json half = mid.stack.ToJson();
      half.update(mid.stats);
      out.update(half);
      if (mid.floor) {
        half["floor"] = mid.floor->ToJson();
        AddRatios(half, mid.stack, *mid.floor);
        AddRatios(out, mid.stack, *mid.floor);
        out["floor"] = half["floor"];
      }
      nlohmann::json each = nlohmann::json::array();
      for (const Pair& p : pairs) {
        nlohmann::json e = {{"p50_us", rl::RoundedUs(p.stack.latency.Percentile(0.5))},
                            {"p99_us", rl::RoundedUs(p.stack.latency.Percentile(0.99))},
                            {"errors", p.stack.errors},
                            {"degraded", p.stack.degraded}};
        if (p.stats.contains("cpu_us_per_request_total"))
          e["cpu_us_per_request_total"] = p.stats["cpu_us_per_request_total"];
        if (p.floor) {
          e["floor_p50_us"] = rl::RoundedUs(p.floor->latency.Percentile(0.5));
          e["floor_p99_us"] = rl::RoundedUs(p.floor->latency.Percentile(0.99));
          AddRatios(e, p.stack, *p.floor);
        }
        each.push_back(std::move(e));
      }
      half["repeats"] = std::move(each);
      half["reported_repeat"] = &mid - pairs.data();
      if (mid.floor) {
        say(absl::StrFormat(
            "stack/floor at half the knee (the median of %d pairs): p50 x%.2f, p99 x%.2f", repeats,
            half["p50_over_floor"].get<double>(), half["p99_over_floor"].get<double>()));
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
