#!/usr/bin/env bash
# A soak (docs/reliability.md): a fresh local stack (the drills' catalogue,
# ingested and trained) under recstack-loadtest at half the knee
# (recommend=80,ingest=20) for N minutes, the resident memory of every
# process (VmRSS of /proc/PID/status, pids from the stack's pid files)
# sampled every 10 s. Targets: after the warm-up (the first 2 minutes, or a
# fifth of a shorter run) no service's RSS grows by more than 10% (its
# largest sample after the warm-up against the first one); no error; no
# INTERNAL answer from any service; every process still running; every
# acknowledged event in the log exactly once. Redis is sampled too and
# reported, without a target: it holds the event log, which grows with
# every event by design.
#
# The training service keeps the impressions of its --feedback-retention
# (7 days by default) in memory: a soak shortens it to 1 minute, so that
# the window is full before the warm-up ends and the memory target checks
# the steady state a service reaches once its retention is full.
#
#   scripts/soak.sh [--minutes N] [--bin DIR] [--out FILE] [--rate R]
#                   [--feedback-retention D] [--keep]
#
#   --minutes N  the load's length (default 10)
#   --bin DIR    the binaries (default build/bin)
#   --out FILE   the JSON (default docs/bench/soak.json)
#   --rate R     requests/s instead of half the knee (a sweep of about 40 s)
#   --feedback-retention D  the training service's (default 1m; 0 keeps all)
#   --keep       keep the scratch folder
#
# Exit 0 when every target is met, 1 otherwise (the JSON is written either
# way), 2 on a usage error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/bin
out=$root/docs/bench/soak.json
minutes=10
rate=
retention=1m
keep=0
usage() {
  sed -n '/^#   scripts\/soak.sh/,/^#   --keep/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) [ $# -ge 2 ] || usage; minutes=$2; shift 2 ;;
    --bin) [ $# -ge 2 ] || usage; bin=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --rate) [ $# -ge 2 ] || usage; rate=$2; shift 2 ;;
    --feedback-retention) [ $# -ge 2 ] || usage; retention=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "soak: unknown argument $1" >&2; usage ;;
  esac
done
if ! [[ $minutes =~ ^[0-9]+$ ]] || [ "$minutes" -lt 1 ] || [ "$minutes" -gt 240 ]; then
  echo "soak: --minutes must be 1-240, got '$minutes'" >&2
  exit 2
fi
if [ -n "$rate" ] && ! [[ $rate =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  echo "soak: --rate must be a number, got '$rate'" >&2
  exit 2
fi
bin=$(cd "$bin" && pwd)
"$bin/recstack-loadtest" --help | grep -q -- --acked-events ||
  { echo "soak: $bin/recstack-loadtest has no --acked-events: rebuild it" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/recstack-soak.XXXXXX")
state=$work/stack
. "$root/scripts/drill/lib.sh"
bg_pids=()
cleanup() {
  local p
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  RECSTACK_STACK_DIR=$work/stack "$stack" down >/dev/null 2>&1 || true
  if [ $keep = 1 ]; then echo "soak: scratch folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== a fresh stack, the catalogue, a model (feedback retention $retention)"
export RECSTACK_FEEDBACK_RETENTION=$retention
fresh_stack "$work/stack"
knee_json=null
if [ -z "$rate" ]; then
  echo "== the knee ($mix, p99 <= ${slo_ms} ms)"
  knee=$(measure_knee "$work/knee.json")
  rate=$([ -n "$knee" ] && jq -n "$knee / 2" || echo 12.5)
  knee_json=$(jq -c --argjson rate "$rate" '{knee_rate, slo_us, rate: $rate,
    steps: [.sweep[] | {rate, p99_us, errors, degraded}]}' "$work/knee.json")
fi
warmup_s=$((minutes >= 10 ? 120 : minutes * 60 / 5))
echo "== load: $rate/s for $minutes min ($mix); RSS every 10 s, warm-up $warmup_s s"
d=$work
"$bin/recstack-loadtest" --addr "$gw" --dataset "$data" --mix "$mix" --rate "$rate" \
  --duration "${minutes}m" --warmup 2s --timeout 5s --timeline --json --acked-events "$d/acked.tsv" \
  >"$d/load.json" 2>"$d/load.err" &
load=$!
bg_pids+=("$load")
t0=$(now_ms)
: >"$d/rss.tsv"
next=$t0
while kill -0 "$load" 2>/dev/null; do
  # The impressions the gateway has sent to ingestion so far (what the
  # training service's feedback log then holds).
  printf '%d\timpressions_sent\t%d\n' $(((next - t0) / 1000)) \
    "$(metric_sum "${metrics_port[gateway]}" '^recstack_gateway_impressions_total\{outcome="sent"\}')" >>"$d/rss.tsv"
  for s in redis "${services[@]}"; do
    pid=$(cat "$state/pids/$s.pid" 2>/dev/null || echo 0)
    kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    printf '%d\t%s\t%d\n' $(((next - t0) / 1000)) "$s" "${kb:-0}" >>"$d/rss.tsv"
  done
  next=$((next + 10000))
  while [ "$(now_ms)" -lt "$next" ] && kill -0 "$load" 2>/dev/null; do sleep 0.5; done
done
wait "$load" || fail "the load generator failed: $(cat "$d/load.err")"

# Exactly-once accounting, as the drills do it.
prefix=$(jq -r '.events.id_prefix' "$d/load.json")
cut -f1 "$d/acked.tsv" | sort >"$d/acked.ids"
logged_ids "$prefix" >"$d/logged.raw"
sort "$d/logged.raw" >"$d/logged.ids"
events=$(jq -n --argjson sent "$(jq '.events.sent' "$d/load.json")" \
  --argjson acked "$(wc -l <"$d/acked.ids")" --argjson logged "$(sort -u "$d/logged.ids" | wc -l)" \
  --argjson lost "$(comm -23 "$d/acked.ids" <(sort -u "$d/logged.ids") | wc -l)" \
  --argjson dup "$(uniq -d "$d/logged.ids" | wc -l)" \
  '{sent: $sent, acknowledged: $acked, logged: $logged, lost: $lost, duplicated: $dup}')
internal=$(internal_errors)
dead=$(dead_processes)
redis_used=$(redis-cli -p "$redis_port" info memory | tr -d '\r' | awk -F: '/^used_memory:/ { print $2 }')

mkdir -p "$(dirname "$out")"
jq -n --slurpfile load "$d/load.json" --rawfile rss "$d/rss.tsv" --argjson knee "$knee_json" \
  --argjson rate "$rate" --argjson minutes "$minutes" --argjson warmup "$warmup_s" \
  --argjson events "$events" --argjson internal "$internal" --arg dead "$dead" \
  --argjson redis_used "$redis_used" --arg mix "$mix" --arg cat "${catalogue_args[*]}" \
  --arg retention "$retention" \
  --argjson feedback_held "$(metric_sum "${metrics_port[training]}" '^recstack_training_feedback_impressions ')" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg cpu "$(nproc) cores" \
  --arg loadavg "$(cut -d' ' -f1-3 /proc/loadavg)" '
  def mb: . / 1024 | . * 10 | round / 10;
  def pct: . * 1000 | round / 10;
  $load[0] as $l
  | [$rss | split("\n")[] | select(length > 0) | split("\t")
     | {t: (.[0] | tonumber), name: .[1], kb: (.[2] | tonumber)}] as $samples
  | ($samples | map(select(.name == "impressions_sent" and .t >= $warmup))) as $imp
  | (($imp[-1].kb // 0) - ($imp[0].kb // 0)) as $imp_after
  | ($samples | map(select(.name != "impressions_sent")) | group_by(.name)
     | map({key: .[0].name, value: (
      map(select(.t >= $warmup)) as $post
      | {samples_mb: map(.kb | mb),
         first_mb: (.[0].kb | mb),
         at_warmup_mb: ($post[0].kb | mb),
         final_mb: ($post[-1].kb | mb),
         peak_after_warmup_mb: ([$post[].kb] | max | mb),
         growth_pct: (($post[-1].kb / $post[0].kb - 1) | pct),
         peak_growth_pct: ((([$post[].kb] | max) / $post[0].kb - 1) | pct),
         mb_per_minute_after_warmup: (($post[-1].kb - $post[0].kb) / 1024
           / (([($post[-1].t - $post[0].t), 1] | max) / 60) | . * 100 | round / 100),
         bytes_per_impression_after_warmup: (if $imp_after > 0
           then (($post[-1].kb - $post[0].kb) * 1024 / $imp_after | round) else null end)})})
     | from_entries) as $rss_by
  | {date: $date, machine: {cpus: $cpu, loadavg_at_end: $loadavg},
     catalogue: ("recstack datagen " + $cat), mix: $mix, knee: $knee, rate: $rate,
     minutes: $minutes, warmup_s: $warmup, sample_every_s: 10,
     feedback_retention: $retention, feedback_impressions_held_at_end: $feedback_held,
     load: ($l | {scheduled, ok, errors, errors_by_code, degraded, degraded_by_reason, achieved_rate,
                  p50_us, p99_us, p999_us, max_us}),
     per_minute: [$l.timeline | range(0; length; 60) as $i | .[$i:$i + 60]
                  | {minute: ($i / 60 + 1), ok: (map(.ok) | add), errors: (map(.errors) | add),
                     degraded: (map(.degraded) | add),
                     median_p99_ms: (map(.p99_us) | sort | .[length / 2 | floor] / 1000 | . * 10 | round / 10),
                     worst_p99_ms: (map(.p99_us) | max / 1000 | . * 10 | round / 10)}],
     impressions_logged_after_warmup: $imp_after,
     rss: ($rss_by | del(.redis)), redis: ($rss_by.redis + {used_memory_mb: ($redis_used / 1048576 | . * 10 | round / 10)}),
     ingestion: $events, internal_errors_server: $internal,
     not_running_at_end: ($dead | split(" ") | map(select(. != "")))}
  | .targets = {
      rss_growth_at_most_10pct: all(.rss[]; .peak_growth_pct <= 10),
      no_error: (.load.errors == 0),
      no_internal_errors: ((.load.errors_by_code.INTERNAL // 0) == 0 and .internal_errors_server == 0),
      every_process_running: (.not_running_at_end | length == 0),
      events_exactly_once: (.ingestion.lost == 0 and .ingestion.duplicated == 0)}
  | .pass = all(.targets[]; .)' >"$out"
jq -c '{pass, targets, load: (.load | {ok, errors, degraded, p99_us}),
  rss: (.rss | map_values({at_warmup_mb, final_mb, peak_growth_pct})), ingestion}' "$out"
[ "$(jq .pass "$out")" = true ]
