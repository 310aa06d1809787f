# Helpers for the table programs next to this file (scripts/bench_tables.sh).

# A number with exactly $n decimals ("0.20", "739"), half away from zero;
# "n/a" for null (a figure the benchmark did not produce).
def fixed($n):
  if . == null then "n/a"
  else
    pow(10; $n) as $p
    | (if . < 0 then "-" else "" end) as $sign
    | (if . < 0 then -. else . end) * $p | round as $r
    | ($r / $p | floor) as $int
    | ($r - $int * $p) as $frac
    | if $n == 0 then $sign + ($int | tostring)
      else
        ($frac | tostring) as $f
        | $sign + ($int | tostring) + "." + ("0" * ($n - ($f | length)) // "") + $f
      end
  end;

# A time, size or ratio at a readable precision: whole numbers from 100,
# then 1, 2 or 3 decimals (11876, 739, 98.6, 2.71, 0.073).
def sig:
  if . == null then "n/a"
  elif (if . < 0 then -. else . end) >= 100 then fixed(0)
  elif (if . < 0 then -. else . end) >= 10 then fixed(1)
  elif (if . < 0 then -. else . end) >= 1 then fixed(2)
  else fixed(3)
  end;

# "100k", "1M" for an item count.
def items_label:
  if . >= 1000000 and . % 1000000 == 0 then "\(. / 1000000 | floor)M"
  elif . >= 1000 and . % 1000 == 0 then "\(. / 1000 | floor)k"
  else tostring
  end;

# A markdown table from an array of rows (arrays of strings), the first row
# the header.
def table:
  def line: "| " + (map(tostring) | join(" | ")) + " |";
  (.[0] | line),
  (.[0] | map("---") | "|" + join("|") + "|"),
  (.[1:][] | line);

# The conditions of a run, from a benchmark's "machine" and "elapsed_s":
# a one-row table.
def run_table:
  [["CPU", "hardware threads", "L3 MiB", "build", "load average (1 min) at start / end",
    "run time"],
   [.machine.cpu_model, (.machine.hardware_threads | tostring),
    (.machine.l3_cache_mib | fixed(0)), .machine.build_type,
    "\(.machine.load_average_1m_start | fixed(2)) / \(.machine.load_average_1m_end | fixed(2))",
    "\(.elapsed_s | fixed(0)) s"]]
  | table;

# A small probability in scientific notation ("3.2e-14"); "n/a" for null.
def sci($digits):
  if . == null then "n/a"
  elif . == 0 then "0"
  elif . >= 0.001 then fixed($digits + 1)
  else
    (log10 | floor) as $e
    | (. / pow(10; $e)) as $m
    | "\($m | fixed($digits - 1))e\($e)"
  end;

# One recstack-bench-train run (tests/bench/train/run_paths.sh): a one-row
# table of its kernel path, speed against the sgemm floor measured in the
# same run, quality, memory and the phase profile (mean seconds per
# iteration).
def train_table:
  [["kernel", "solver", "s / iteration", "sgemm (s)", "iteration / sgemm", "NDCG@10",
    "peak RSS / (CSR + factors)", "gram", "gather", "solve", "row overhead", "imbalance",
    "unaccounted", "load average start / end"],
   [.kernel, .solver, (.seconds_per_iteration | sig), (.sgemm_seconds | sig),
    (.iteration_over_sgemm | sig), (.["ndcg@10"] | fixed(4)),
    (.rss_over_csr_plus_factors | fixed(2)),
    (.seconds_per_iteration_by_phase
     | (.gram, .gather, .solve_kernel, .row_overhead, .thread_imbalance, .unaccounted) | sig),
    (if .load_average_start == null then "n/a"
     else "\(.load_average_start | fixed(1)) / \(.load_average_end | fixed(1))" end)]]
  | table;

# train_convergence_*.json: one row per iteration, each solver's fit seconds
# so far and NDCG@10 side by side.
def convergence_table:
  .runs as $runs
  | ($runs | map(.convergence | map({key: (.iteration | tostring), value: .}) | from_entries))
      as $by_it
  | [["iteration"] + ($runs | map("\(.solver) fit s", "\(.solver) NDCG@10"))]
    + [range(1; ($runs | map(.convergence | length) | max) + 1) as $it
       | [$it | tostring]
         + ($by_it | map(.[$it | tostring] | (.fit_seconds | sig), (.["ndcg@10"] | fixed(4))))]
  | table;

# train_convergence_*.json: per solver, its kernel, s / iteration, final and
# best NDCG@10, and the first iteration (and fit seconds) at which it is
# within 0.002 of CG's final NDCG@10.
def convergence_summary:
  (.runs | map(select(.solver == "cg")) | first | .["ndcg@10"]) as $target
  | [["solver", "kernel", "blas_core", "s / iteration", "final NDCG@10", "best NDCG@10",
      "fit s (all iterations)", "first within 0.002 of CG's final: iteration", "fit s",
      "load average start / end"]]
    + [.runs[]
       | (.convergence | map(select(.["ndcg@10"] >= $target - 0.002)) | first) as $hit
       | [.solver + (if .solver == "ials++" then " (B = \(.params.block_size))" else "" end),
          .kernel, .blas_core, (.seconds_per_iteration | sig), (.["ndcg@10"] | fixed(4)),
          (.convergence | map(.["ndcg@10"]) | max | fixed(4)), (.fit_seconds_total | sig),
          ($hit.iteration // "never" | tostring), ($hit.fit_seconds | sig),
          "\(.load_average_start | fixed(1)) / \(.load_average_end | fixed(1))"]]
  | table;

# One sentence of a capacity sweep (recstack-loadtest --sweep --floor): the
# knee against the floor's and the half-knee ratios.
def knee_sentence:
  . as $r
  | "Knee **\($r.knee_rate)/s** (the floor's \($r.floor_knee_rate)/s in the same sweep: "
    + "\($r.knee_rate / $r.floor_knee_rate | sig) of it); at half the knee (\($r.half_knee.rate)/s) p50 is "
    + "\($r.half_knee.p50_over_floor | sig)x and p99 \($r.half_knee.p99_over_floor | sig)x the floor's"
    + (if ($r.half_knee.repeats // [] | length) > 1
       then " (the median of \($r.half_knee.repeats | length) stack-then-floor pairs, whose p99 ratios read "
            + "\($r.half_knee.repeats | map("\(.p99_over_floor | sig)x") | join(", ")))"
       else "" end)
    + ", and "
    + "the stack's processes (\($r.half_knee.cpu_us_per_request // $r.cpu_us_per_request | keys | join(", "))) spend "
    + "\($r.half_knee.cpu_us_per_request_total // $r.cpu_us_per_request_total | fixed(0)) us of CPU per request.";

# The sweep's steps in one line: "100/s 15.4 ms, 150/s 14.3 ms, ..." (p99,
# and the degraded answers where there were any).
def sweep_line:
  [.sweep[] | "\(.rate)/s \(.p99_us / 1000 | sig) ms" + (if .degraded > 0 then " (\(.degraded) degraded)" else "" end)]
  | join(", ");

# One sentence of an overload run (2x the knee, then half of it, --timeline).
def overload_sentence:
  . as $r
  | ($r.timeline | map(select(.rate == $r.rate))) as $over
  | ($r.timeline | map(select(.rate != $r.rate))) as $after
  | "2x the knee (\($r.rate)/s) for \($over | length) s, then \($after[0].rate // "n/a")/s: "
    + "\($r.ok) of \($r.count) answered OK, \($r.errors) errors, \($r.degraded) degraded, slowest "
    + "\($r.max_us / 1000 | sig) ms; p99 per second during it \($over | map(.p99_us) | min / 1000 | fixed(0))-"
    + "\($over | map(.p99_us) | max / 1000 | fixed(0)) ms, after it "
    + "\($after | map(.p99_us / 1000 | fixed(0)) | join(", ")) ms.";

# The per-request budget of a sweep's half-knee run (scripts/capacity.sh):
# CPU microseconds per request of each process measured (their own
# process_cpu_seconds_total) and the Redis commands per request (INFO
# commandstats before and after), and how that run went.
def half_knee_budget:
  .half_knee as $h
  | ([["process", "CPU us per request"]]
     + [$h.cpu_us_per_request | to_entries | sort_by(-.value)[] | [.key, (.value | fixed(0))]]
     + [["all measured", ($h.cpu_us_per_request_total // ($h.cpu_us_per_request | add) | fixed(0))]]
     | table),
    "",
    ([["Redis command", "per request"]]
     + [$h.redis_commands | to_entries | sort_by(-.value)[] | ["`\(.key)`", (.value | fixed(3))]]
     + [["all", ($h.redis_commands_per_request | fixed(3))],
        ["catalogue-sized (`ZUNION`, `ZUNIONSTORE`, `ZRANGE`, `KEYS`, `SCAN`) per second",
         ($h.redis_catalogue_sized_per_second | fixed(1))]]
     | table),
    "",
    "At \($h.rate) Recommend/s for \($h.seconds) s"
    + (if ($h.repeats // [] | length) > 1 then " (the median pair of \($h.repeats | length))" else "" end)
    + ": \($h.ok) of \($h.count) answered OK, \($h.errors) errors, "
    + "\($h.degraded) degraded; p50 \($h.p50_us / 1000 | sig) ms, p99 \($h.p99_us / 1000 | sig) ms; "
    + "the floor's p99 in the same run \($h.floor.p99_us / 1000 | sig) ms.";
