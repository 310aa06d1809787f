#!/usr/bin/env bash
# Fault drills under load (docs/reliability.md). Each drill runs against a
# fresh local stack (deploy/local/stack.sh, its own state folder and port
# offset; traffic on loopback only) holding a synthetic catalogue, ingested
# and trained first. recstack-loadtest then drives the gateway at half the
# knee with Recommend and IngestEvents (--mix recommend=80,ingest=20,
# --timeline, --acked-events) while the drill injects its faults:
#
#   processes      kill -9 retrieval, then ranking, then ingestion (the
#                  gateway's ingestion target), each restarted after 5 s
#                  (stack.sh up starts what is not running); 60 s of load
#   redis-restart  kill -9 redis-server (a crash, AOF appendfsync everysec)
#                  and start it again at once from its AOF; 40 s
#   redis-pause    CLIENT PAUSE 2000 ALL; 30 s
#   rollback       two model versions trained before the load, then under
#                  load promote the older (roll back), the newer, the older
#                  again; each switch must show in the gateway's answers; 55 s
#   impressions    SIGSTOP ingestion and a burst of k=200 Recommends (20/s for
#                  5 s) so the gateway's impression queue (10,000 items)
#                  fills, then SIGCONT; Recommend must keep answering; 40 s
#
# Per drill: errors by code, degraded answers, p99 before / during / after
# each fault, the time to recover (scripts/drill/analyze.jq defines it), and
# exactly-once accounting of ingestion: the events the load generator saw
# acknowledged against the ids in the event log (rs:events): lost
# (acknowledged, not logged), duplicated (logged twice), logged but not
# acknowledged. Targets, each a pass/fail in the JSON: no INTERNAL answer
# (the load generator's, and every service's recstack_rpc_requests_total);
# no acknowledged event lost, except in redis-restart the ones acknowledged
# in the last second before the crash (the everysec window), counted; no
# event logged twice; every recovery under 10 s; every process running at
# the end; plus each drill's own (the queue filled, the switches seen).
#
#   scripts/drill.sh [--bin DIR] [--out FILE] [--rate R] [--keep] [DRILL...]
#
#   --bin DIR   the binaries (default build/bin)
#   --out FILE  the JSON (default docs/bench/reliability.json)
#   --rate R    requests/s of the load instead of half the knee measured on
#               the first drill's stack (a sweep of about 40 s)
#   --keep      keep the scratch folder (logs, load JSON, acked ids)
#
# Exit 0 when every target of every drill is met, 1 otherwise (the JSON is
# written either way), 2 on a usage error. Everything started is stopped on
# exit. scripts/bench_tables.sh renders the JSON in docs/reliability.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/bin
out=$root/docs/bench/reliability.json
rate=
keep=0
all_drills=(processes redis-restart redis-pause rollback impressions)
drills=()
usage() {
  sed -n '/^#   scripts\/drill.sh/,/^#   --keep/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --bin) [ $# -ge 2 ] || usage; bin=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --rate) [ $# -ge 2 ] || usage; rate=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage ;;
    -*) echo "drill: unknown option $1" >&2; usage ;;
    *)
      [[ " ${all_drills[*]} " == *" $1 "* ]] || { echo "drill: unknown drill $1 (${all_drills[*]})" >&2; exit 2; }
      drills+=("$1"); shift ;;
  esac
done
[ ${#drills[@]} -gt 0 ] || drills=("${all_drills[@]}")
if [ -n "$rate" ] && ! [[ $rate =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  echo "drill: --rate must be a number, got '$rate'" >&2
  exit 2
fi
bin=$(cd "$bin" && pwd)
for b in recstack recstack-loadtest recstack-gateway; do
  [ -x "$bin/$b" ] || { echo "drill: $bin/$b is missing: build first" >&2; exit 2; }
done
"$bin/recstack-loadtest" --help | grep -q -- --acked-events ||
  { echo "drill: $bin/recstack-loadtest has no --acked-events: rebuild it" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/recstack-drill.XXXXXX")
state=$work  # fail() (ports.sh) shows the logs under $state/logs
. "$root/scripts/drill/lib.sh"
stacks=()   # every state folder brought up, stopped on exit
bg_pids=()  # load generators started here
cleanup() {
  local p s
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for s in "${stacks[@]}"; do
    # A process an interrupted drill left stopped (SIGSTOP) handles no SIGTERM until continued.
    for p in "$s"/pids/*.pid; do [ -e "$p" ] && kill -CONT "$(cat "$p")" 2>/dev/null || true; done
    RECSTACK_STACK_DIR=$s "$stack" down >/dev/null 2>&1 || true
  done
  if [ $keep = 1 ]; then echo "drill: scratch folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# fault WHAT START_MS END_MS [EXTRA_JSON]: one line of $d/faults.jsonl.
fault() {
  local x=${4:-'{}'}
  jq -cn --arg what "$1" --argjson s "$2" --argjson e "$3" --argjson x "$x" \
    '{what: $what, start_ms: $s, end_ms: $e} + $x' >>"$d/faults.jsonl"
}

# Exactly-once accounting of the load's events: JSON on stdout. With a
# crash time (redis-restart), the acknowledged events it may lose are those
# answered in [crash - 1 s, crash + 200 ms] (the everysec window, and the
# answer's way back to the client).
account_events() {
  local crash=${1:-} prefix
  prefix=$(jq -r '.events.id_prefix' "$d/load.json")
  cut -f1 "$d/acked.tsv" | sort >"$d/acked.ids"
  logged_ids "$prefix" | sort >"$d/logged.ids"
  uniq "$d/logged.ids" >"$d/logged.uniq"
  comm -23 "$d/acked.ids" "$d/logged.uniq" >"$d/lost.ids"
  local window='null'
  if [ -n "$crash" ]; then
    local lo=$((crash - 1000)) hi=$((crash + 200))
    window=$(awk -F'\t' -v lo=$lo -v hi=$hi 'FILENAME == ARGV[1] { lost[$1] = 1; next }
      { if ($2 >= lo && $2 <= hi) { acked++; if ($1 in lost) inw++ } if ($1 in lost) n++ }
      END { printf "{\"acked_in_window\": %d, \"lost_in_window\": %d, \"lost_outside_window\": %d}",
            acked, inw, n - inw }' "$d/lost.ids" "$d/acked.tsv")
  fi
  jq -n --arg prefix "$prefix" --argjson sent "$(jq '.events.sent' "$d/load.json")" \
    --argjson acked "$(wc -l <"$d/acked.ids")" --argjson logged "$(wc -l <"$d/logged.uniq")" \
    --argjson lost "$(wc -l <"$d/lost.ids")" \
    --argjson dup "$(uniq -d "$d/logged.ids" | wc -l)" \
    --argjson not_acked "$(comm -13 "$d/acked.ids" "$d/logged.uniq" | wc -l)" \
    --argjson window "$window" --argjson crash "${crash:-null}" '
    {id_prefix: $prefix, sent: $sent, acknowledged: $acked, logged: $logged, lost: $lost,
     duplicated: $dup, logged_not_acknowledged: $not_acked}
    + if $window == null then {} else
        {everysec_window: ($window + {crash_ms: $crash, from_ms: ($crash - 1000),
                                      to_ms: ($crash + 200)})} end'
}

# ---- the drills' faults; each runs while the load runs ($w_est: the
# expected start of the load's measured window, Unix ms).

drill_processes() {
  local s at=8 t0 t1 t2 pre
  for s in retrieval ranking ingestion; do
    sleep_until_ms $((w_est + at * 1000))
    # Its counters die with it: count its INTERNAL answers first.
    pre=$(metric_sum "${metrics_port[$s]}" '^recstack_rpc_requests_total\{.*code="INTERNAL"')
    internal_killed=$((internal_killed + pre))
    kill -9 "$(cat "$state/pids/$s.pid")"
    t0=$(now_ms)
    sleep_until_ms $((t0 + 5000))
    t1=$(now_ms)
    "$stack" up --split >>"$d/stack-restart.log" 2>&1 || fail "stack.sh up did not restart $s"
    t2=$(now_ms)
    fault "kill -9 $s, restarted after 5 s" "$t0" "$t1" \
      "{\"service\": \"$s\", \"healthy_after_restart_ms\": $((t2 - t1))}"
    at=$((at + 17))
  done
}

drill_redis_restart() {
  local t0 t2 t3 fsync keys
  fsync=$(redis-cli -p "$redis_port" config get appendfsync | tail -1)
  sleep_until_ms $((w_est + 10000))
  keys=$(redis-cli -p "$redis_port" dbsize)
  kill -9 "$(cat "$state/pids/redis.pid")"
  t0=$(now_ms)
  "$stack" up --split >>"$d/stack-restart.log" 2>&1 || fail "stack.sh up did not restart redis"
  t2=$(now_ms)
  # stack.sh up returns once redis-server accepts connections, which may
  # be while it still loads its AOF (answering LOADING): wait for PONG.
  while ! redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; do
    [ $(($(now_ms) - t0)) -lt 30000 ] || fail "redis-server did not answer PONG within 30 s of the crash"
    sleep 0.05
  done
  t3=$(now_ms)
  crash_ms=$t0
  # The restart is issued at once: the fault ends with the kill.
  fault "kill -9 redis-server, started again at once from its AOF" "$t0" "$t0" \
    "{\"appendfsync\": \"$fsync\", \"up_after_ms\": $((t2 - t0)),
      \"redis_answering_after_ms\": $((t3 - t0)), \"keys_before\": $keys,
      \"keys_after\": $(redis-cli -p "$redis_port" dbsize)}"
}

drill_redis_pause() {
  local t0
  sleep_until_ms $((w_est + 10000))
  t0=$(now_ms)
  redis-cli -p "$redis_port" client pause 2000 all >/dev/null
  fault "CLIENT PAUSE 2000 ALL" "$t0" $((t0 + 2000))
}

# Promotes version $1 at $2 s and checks the gateway's answers carry it:
# the time until one does (polled every 100 ms, at most 10 s), then 5
# more answers for other users.
switch_to() {
  local v=$1 at=$2 what=$3 t0 t1 seen=null on=0 u
  sleep_until_ms $((w_est + at * 1000))
  t0=$(now_ms)
  "$bin/recstack" promote --addr "$training_addr" "$v" >>"$d/promote.log" 2>&1 || fail "promote $v failed"
  t1=$(now_ms)
  while [ $(($(now_ms) - t0)) -lt 10000 ]; do
    if [ "$(answer_version u1)" = "$v" ]; then seen=$(($(now_ms) - t0)); break; fi
    sleep 0.1
  done
  for u in u2 u3 u5 u8 u13; do [ "$(answer_version $u)" = "$v" ] && on=$((on + 1)); done
  fault "$what: promote $v" "$t0" "$t1" \
    "{\"to\": \"$v\", \"answers_on_it_after_ms\": $seen, \"sampled_answers_on_it\": $on, \"sampled\": 5}"
}

drill_rollback() {
  switch_to "$v_old" 8 "roll back"
  switch_to "$v_new" 23 "publish again"
  switch_to "$v_old" 38 "roll back again"
}

impressions_metric() {
  metric_sum "${metrics_port[gateway]}" "^recstack_gateway_impressions_total\\{outcome=\"$1\"\\}"
}

drill_impressions() {
  local t0 t1 full=null flood d0 pid
  sleep_until_ms $((w_est + 10000))
  for o in sent dropped failed; do imp_before[$o]=$(impressions_metric $o); done
  d0=${imp_before[dropped]}
  pid=$(cat "$state/pids/ingestion.pid")
  kill -STOP "$pid"
  t0=$(now_ms)
  "$bin/recstack-loadtest" --addr "$gw" --dataset "$data" --mix recommend=100 --k 200 --rate 20 \
    --duration 5s --warmup 0s --timeout 5s --seed 2 --json >"$d/flood.json" 2>"$d/flood.err" &
  flood=$!
  bg_pids+=("$flood")
  # The queue is full when the gateway starts dropping impressions.
  while kill -0 "$flood" 2>/dev/null; do
    if [ "$full" = null ] && [ "$(impressions_metric dropped)" -gt "$d0" ]; then
      full=$(($(now_ms) - t0))
    fi
    sleep 0.2
  done
  wait "$flood" || fail "the impressions burst failed: $(cat "$d/flood.err")"
  [ "$full" != null ] || [ "$(impressions_metric dropped)" -le "$d0" ] || full=$(($(now_ms) - t0))
  kill -CONT "$pid"
  t1=$(now_ms)
  fault "SIGSTOP ingestion + a burst of k=200 Recommends, then SIGCONT" "$t0" "$t1" \
    "{\"queue_full_after_ms\": $full}"
}

declare -A duration=([processes]=60 [redis-restart]=40 [redis-pause]=30 [rollback]=55 [impressions]=40)
knee_json=null
entries=()
failed=0
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)

for name in "${drills[@]}"; do
  d=$work/$name
  mkdir -p "$d"
  echo "== drill $name: a fresh stack, the catalogue, a model"
  stacks+=("$d/stack")
  fresh_stack "$d/stack"
  if [ -z "$rate" ]; then
    echo "== the knee (recommend=80,ingest=20, p99 <= ${slo_ms} ms)"
    knee=$(measure_knee "$work/knee.json")
    if [ -n "$knee" ]; then
      rate=$(jq -n "$knee / 2")
    else
      rate=12.5  # below the sweep's first step (25/s)
    fi
    knee_json=$(jq -c --argjson rate "$rate" '{knee_rate, slo_us, rate: $rate,
      steps: [.sweep[] | {rate, p99_us, errors, degraded}]}' "$work/knee.json")
    echo "knee ${knee:-below 25}/s: the drills run at $rate/s"
  fi
  v_old= v_new=
  if [ "$name" = rollback ]; then
    v_old=$(current_version)
    v_new=$(train_model)
    wait_for_version "$v_new" >/dev/null
  fi
  internal_killed=0 crash_ms=
  declare -A imp_before=()
  : >"$d/faults.jsonl"
  dur=${duration[$name]}
  echo "== load: $rate/s for $dur s ($mix), faults: $name"
  "$bin/recstack-loadtest" --addr "$gw" --dataset "$data" --mix "$mix" --rate "$rate" \
    --duration "${dur}s" --warmup 2s --timeout 5s --timeline --json --acked-events "$d/acked.tsv" \
    >"$d/load.json" 2>"$d/load.err" &
  load=$!
  bg_pids+=("$load")
  # The measured window opens 2 s (the warm-up) after the generator has read
  # the catalogue and connected; faults are placed from this estimate and
  # measured against the window's real start (window_start_unix_ms).
  w_est=$(($(now_ms) + 2300))
  "drill_${name//-/_}"
  wait "$load" || fail "the load generator failed: $(cat "$d/load.err")"

  redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG ||
    fail "drill $name: redis-server is not running at the end: the event log cannot be read"
  jq --argjson faults "$(jq -s . "$d/faults.jsonl")" --argjson slo_ms "$slo_ms" \
    -f "$root/scripts/drill/analyze.jq" "$d/load.json" >"$d/analysis.json"
  account_events "$crash_ms" >"$d/events.json"
  internal_server=$((internal_killed + $(internal_errors)))
  dead=$(dead_processes)
  extra='{}'
  if [ "$name" = impressions ]; then
    extra=$(jq -n --argjson b0 "${imp_before[sent]}" --argjson b1 "${imp_before[dropped]}" \
      --argjson b2 "${imp_before[failed]}" --argjson a0 "$(impressions_metric sent)" \
      --argjson a1 "$(impressions_metric dropped)" --argjson a2 "$(impressions_metric failed)" \
      --slurpfile flood "$d/flood.json" '{impressions: {sent: ($a0 - $b0), dropped: ($a1 - $b1),
        failed: ($a2 - $b2), queue_capacity: 10000},
      burst: ($flood[0] | {rate, k: 200, ok, errors, errors_by_code, degraded, p99_us})}')
  fi
  if [ "$name" = rollback ]; then
    extra=$(jq -n --arg old "$v_old" --arg new "$v_new" '{versions: {older: $old, newer: $new}}')
  fi
  entry=$(jq -n --arg name "$name" --argjson rate "$rate" --arg mix "$mix" --argjson dur "$dur" \
    --slurpfile load "$d/load.json" --slurpfile an "$d/analysis.json" \
    --slurpfile ev "$d/events.json" --argjson internal_server "$internal_server" \
    --arg dead "$dead" --argjson extra "$extra" '
    $load[0] as $l | $an[0] as $a | $ev[0] as $e
    | ($extra.burst.errors_by_code.INTERNAL // 0) as $burst_internal
    | {name: $name, rate: $rate, mix: $mix, duration_s: $dur,
       load: ($l | {scheduled, ok, errors, errors_by_code, degraded, degraded_by_reason,
                    p50_us, p99_us, max_us,
                    recommend_errors_by_code: (.ops.recommend.errors_by_code // {}),
                    ingest_errors_by_code: (.ops.ingest.errors_by_code // {})}),
       p99_before_ms: $a.p99_before_ms, healthy_p99_bound_ms: $a.bound_ms,
       unhealthy_seconds_before: $a.unhealthy_seconds_before, seconds_before: $a.seconds_before,
       faults: $a.faults, ingestion: $e,
       internal_errors: {client: (($l.errors_by_code.INTERNAL // 0) + $burst_internal),
                         server: $internal_server},
       not_running_at_end: ($dead | split(" ") | map(select(. != "")))}
    + $extra + {timeline: $a.timeline}
    | .targets = ({
        no_internal_errors: (.internal_errors.client == 0 and .internal_errors.server == 0),
        no_acknowledged_event_lost: (if $name == "redis-restart"
          then (.ingestion.lost <= .ingestion.everysec_window.acked_in_window
                and .ingestion.everysec_window.lost_outside_window == 0)
          else .ingestion.lost == 0 end),
        no_event_logged_twice: (.ingestion.duplicated == 0),
        recovery_under_10s: all(.faults[]; .recovery_s != null and .recovery_s < 10),
        no_error_after_recovery: all(.faults[]; .errors_after_recovery == 0),
        every_process_running: (.not_running_at_end | length == 0)}
      + if $name == "rollback" then
          {answers_follow_each_switch: all(.faults[]; .answers_on_it_after_ms != null
             and .answers_on_it_after_ms < 10000 and .sampled_answers_on_it == .sampled)}
        elif $name == "impressions" then
          {queue_filled: (.faults[0].queue_full_after_ms != null and .impressions.dropped > 0),
           recommend_kept_answering: (.load.recommend_errors_by_code | length == 0)}
        else {} end)
    | .pass = all(.targets[]; .)')
  entries+=("$entry")
  echo "$entry" | jq -c '{name, pass, targets, load: (.load | {ok, errors, errors_by_code, degraded}),
    ingestion: (.ingestion | del(.id_prefix)),
    faults: [.faults[] | {what, errors_during, p99_during_ms, p99_after_ms, recovery_s,
                          unhealthy_seconds_after_recovery}]}'
  [ "$(echo "$entry" | jq .pass)" = true ] || failed=1
  "$stack" down >/dev/null 2>&1 || true
done

mkdir -p "$(dirname "$out")"
printf '%s\n' "${entries[@]}" | jq -s --argjson knee "$knee_json" --arg mix "$mix" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg cpu "$(nproc) cores" \
  --arg load "$loadavg_start" --arg cat "${catalogue_args[*]}" --argjson slo "$slo_ms" '
  {date: $date, machine: {cpus: $cpu, loadavg_at_start: $load},
   catalogue: ("recstack datagen " + $cat), mix: $mix, slo_ms: $slo, knee: $knee,
   recovery_rule: ("a second (requests by scheduled send time) is healthy with no error, at most "
     + "1% of its answers degraded and p99 <= max(2 x the median per-second p99 before the "
     + "first fault, the SLO); recovery_s = from the end of the fault to the start of the "
     + "first healthy second that begins 5 seconds with no error and at most one unhealthy "
     + "second"),
   drills: .}' >"$out"
echo "drill: $(jq '[.drills[] | select(.pass)] | length' "$out") of ${#entries[@]} drill(s) met every target; $out"
exit $failed
