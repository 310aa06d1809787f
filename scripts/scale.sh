#!/usr/bin/env bash
# The capacity plan's inputs (docs/scale.md), measured on this machine in one
# sitting, written to docs/bench/scale.json (or --out FILE):
#
#   1. ingest events/s through the service: recstack-bench-ingest on one
#      redis-server and on a 3-master, 3-replica cluster (per master too),
#      the best of three interleaved runs of each;
#   2. the local stack on one Redis and on that cluster (stack.sh up
#      [--redis-cluster 3]), the same synthetic catalogue ingested and
#      trained (ALS, 64 factors), then recstack-loadtest at fixed rates:
#      the highest rate answered with no error and >= 95% full (not
#      degraded) answers; then the CPU time of every process of the stack
#      (Redis nodes included) per Recommend at 150/s: the cluster's
#      capacity over the single Redis's on the same cores is the inverse
#      ratio of those costs (the knees' ratio is reported beside it);
#   3. on the cluster stack: keys per master, and Redis bytes per user
#      (factors, history), per item (factor chunks), per event (stream
#      entry, dedupe marker) from MEMORY USAGE of the keys themselves;
#   4. CPU microseconds per Recommend per service, copied from
#      docs/bench/loadtest_budget.json (scripts/capacity.sh) with its source;
#   5. faults: a master killed during a 100,000-event ingest
#      (cluster_ingest_test, whose line of figures is parsed), and a master
#      killed under Recommend load on the cluster stack (answers, degraded,
#      errors, and how long until a replica took over).
#
#   scripts/scale.sh [--out FILE] [--bin DIR]     about 8 minutes on 2 cores
#
# Everything runs on loopback on its own ports (a free RECSTACK_PORT_OFFSET
# outside the ephemeral range) and is stopped at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/docs/bench/scale.json
bin=$root/build/bin
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --bin) bin=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: $0 [--out FILE] [--bin DIR]" >&2; exit 2 ;;
  esac
done
stack=$root/deploy/local/stack.sh
state=$(mktemp -d "${TMPDIR:-/tmp}/recstack-scale.XXXXXX")
# A port offset at which every port of both stacks is free and outside the
# kernel's ephemeral range (tests/e2e/stack/ports.sh).
. "$root/tests/e2e/stack/ports.sh"
offset=$(pick_offset 6379 6380 6381 6382 6383 6384 16379 16380 16381 16382 16383 16384 \
                     50050 50051 50052 50053 50054 8080 9100 9101 9102 9103 9104)
export RECSTACK_STACK_DIR=$state/stack RECSTACK_BIN=$bin RECSTACK_PORT_OFFSET=$offset
off=$RECSTACK_PORT_OFFSET
cleanup() {
  local rc=$?
  "$stack" down >/dev/null 2>&1 || true
  if [ $rc = 0 ]; then rm -rf "$state"; else echo "scale: failed; its files are in $state" >&2; fi
}
trap cleanup EXIT
rs=$bin/recstack

echo "== 1. ingest: one redis-server, then a 3-master cluster" >&2
# Each shape three times, interleaved, the best run of each kept: a load that
# drifts on shared cores then weighs on every shape alike. The cluster
# without replicas shows what the client costs, apart from the replicas'
# work on the same cores.
for i in 1 2 3; do
  "$bin/recstack-bench-ingest" --reps 2 > "$state/ingest_single-$i.json"
  "$bin/recstack-bench-ingest" --reps 2 --cluster 3 > "$state/ingest_cluster-$i.json"
  "$bin/recstack-bench-ingest" --reps 2 --cluster 3 --cluster-replicas 0 > "$state/ingest_cluster_r0-$i.json"
done
for shape in single cluster cluster_r0; do
  jq -s 'max_by(.events_per_second)' "$state/ingest_$shape"-[123].json > "$state/ingest_$shape.json"
done

data=$state/data
"$rs" datagen --users 5000 --items 20000 --interactions 150000 --seed 7 --end-time-ms now --out "$data" >/dev/null

# {NAME: CPU ticks} of every process with a pid file in the stack (services
# and Redis nodes; a process that has exited counts 0).
stack_cpu_ticks() {
  local f name pid ticks json="{}"
  for f in "$RECSTACK_STACK_DIR"/pids/*.pid; do
    name=$(basename "$f" .pid) pid=$(cat "$f") ticks=0
    # utime and stime: fields 14 and 15, counted after the ")" that ends comm.
    [ -r "/proc/$pid/stat" ] && ticks=$(sed -E 's/^.*\) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
    json=$(jq -c --arg n "$name" --argjson t "$ticks" '. + {($n): $t}' <<< "$json")
  done
  echo "$json"
}

# The stack with options "$@": ingest, train, then the fixed-rate steps.
run_stack() {
  local name=$1
  shift
  "$stack" up --split "$@" >&2
  "$rs" ingest --addr "127.0.0.1:$((50051 + off))" --items "$data/items.csv" "$data/interactions.csv" \
    --json > "$state/$name-ingest.json"
  "$rs" train --addr "127.0.0.1:$((50052 + off))" --algo als-implicit --factors 64 --iterations 5 \
    --wait --quiet --json > "$state/$name-train.json"
  local gw=127.0.0.1:$((50050 + off)) v=""
  for _ in $(seq 100); do
    v=$("$rs" recommend --addr "$gw" --user u1 --k 5 --json | jq -r '.model_version // ""')
    [ -n "$v" ] && break
    sleep 0.2
  done
  [ -n "$v" ] || { echo "scale: $name never answered from a model" >&2; exit 1; }
  local steps="[]" rate
  for rate in 50 100 150 200 250 300 400 500 600; do
    "$bin/recstack-loadtest" --addr "$gw" --rate "$rate" --duration 4s --warmup 1s --dataset "$data" \
      --connections 4 --json > "$state/$name-$rate.json"
    steps=$(jq --argjson s "$steps" --argjson r "$rate" \
      '$s + [{rate: $r, achieved_rate, count, ok_not_degraded, errors, degraded, p50_us, p99_us}]' "$state/$name-$rate.json")
  done
  echo "$steps" > "$state/$name-steps.json"
  # What a Recommend costs the whole machine: CPU time (user + system) of
  # every process of the stack, Redis nodes included. First 10 s with no
  # load (after 10 s for the last step's backlog to drain): the shape's
  # fixed cost (cluster bus, replication pings, crons, pollers, in cores);
  # then a fixed-rate run below both knees: the marginal cost of a request
  # is what it adds. On shared cores a shape serves at most
  # (cores - fixed) / marginal per second, so the cluster's capacity over
  # the single Redis's is the client's (and the extra nodes') overhead,
  # which noise in the knee steps blurs.
  local before after idle
  sleep 10
  before=$(stack_cpu_ticks)
  sleep 10
  after=$(stack_cpu_ticks)
  idle=$(jq -n --argjson b "$before" --argjson a "$after" --argjson tck "$(getconf CLK_TCK)" \
    '[$a | to_entries[] | (.value - ($b[.key] // 0))] | add / $tck / 10')
  before=$(stack_cpu_ticks)
  "$bin/recstack-loadtest" --addr "$gw" --rate 150 --duration 20s --warmup 0s --dataset "$data" \
    --connections 4 --json > "$state/$name-cpu-run.json"
  after=$(stack_cpu_ticks)
  jq -n --argjson b "$before" --argjson a "$after" --slurpfile run "$state/$name-cpu-run.json" \
    --argjson tck "$(getconf CLK_TCK)" --argjson idle "$idle" --argjson cores "$(nproc)" '
    ($run[0].count) as $n |
    ([$a | to_entries[] | {key, value: ((.value - ($b[.key] // 0)) * 1e6 / $tck / $n)}] | from_entries) as $per |
    ([$per[]] | add) as $total |
    ($total - $idle * 20 * 1e6 / $n) as $marginal |
    {requests: $n, rate: 150, seconds: 20,
     us_per_request: $total, by_process: $per,
     redis_us_per_request: ([$per | to_entries[] | select(.key | startswith("redis")) | .value] | add),
     idle_cores: $idle, marginal_us_per_request: $marginal,
     capacity_per_second: (($cores - $idle) * 1e6 / $marginal)}' \
    > "$state/$name-cpu.json"
}

echo "== 2a. the stack on one Redis" >&2
run_stack single
"$stack" down >&2
rm -rf "$RECSTACK_STACK_DIR"

echo "== 2b. the stack on a 3-master Redis Cluster" >&2
run_stack cluster --redis-cluster 3

echo "== 3. keys and bytes on the cluster" >&2
masters=()
for p in $(seq $((6379 + off)) $((6384 + off))); do
  redis-cli -p "$p" role | head -1 | grep -q master && masters+=("$p")
done
keys_per_master="[]"
for p in "${masters[@]}"; do
  keys_per_master=$(jq -n --argjson a "$keys_per_master" --argjson p "$p" --argjson n "$(redis-cli -p "$p" dbsize)" \
    '$a + [{port: $p, keys: $n}]')
done
version=$(jq -r .model_version "$state/cluster-train.json")
# Mean MEMORY USAGE of up to 300 keys matching a pattern, over every master
# (each SCANs its own keys), and how many were sampled.
mean_bytes() {
  local pattern=$1 total=0 n=0 p k b
  for p in "${masters[@]}"; do
    while read -r k; do
      [ -n "$k" ] || continue
      b=$(redis-cli -p "$p" memory usage "$k")
      total=$((total + b))
      n=$((n + 1))
    done < <(redis-cli -p "$p" --scan --pattern "$pattern" | head -100)
  done
  jq -n --argjson t "$total" --argjson n "$n" '{mean: (if $n > 0 then $t / $n else 0 end), sampled: $n}'
}
# Every key matching a pattern: total MEMORY USAGE.
total_bytes() {
  local pattern=$1 total=0 p k
  for p in "${masters[@]}"; do
    while read -r k; do
      [ -n "$k" ] || continue
      total=$((total + $(redis-cli -p "$p" memory usage "$k")))
    done < <(redis-cli -p "$p" --scan --pattern "$pattern")
  done
  echo "$total"
}
n_items=$(redis-cli -c -p "$((6379 + off))" hget "rs:model:$version:meta" n_items)
n_users=$(redis-cli -c -p "$((6379 + off))" hget "rs:model:$version:meta" n_users)
user_factor=$(mean_bytes "rs:model:$version:user:*")
history=$(mean_bytes "rs:{p*}:hist:*")
marker=$(mean_bytes "rs:{p*}:evt:*")
item_chunks=$(total_bytes "rs:model:$version:items:*")
item_hash=$(mean_bytes "rs:item:*")
streams=$(total_bytes "rs:{p*}:events")
events=0
for p in "${masters[@]}"; do
  while read -r k; do
    [ -n "$k" ] || continue
    events=$((events + $(redis-cli -p "$p" xlen "$k")))
  done < <(redis-cli -p "$p" --scan --pattern "rs:{p*}:events")
done

echo "== 5. faults: a master killed under Recommend load, then during an ingest" >&2
gw=127.0.0.1:$((50050 + off))
"$bin/recstack-loadtest" --addr "$gw" --rate 50 --duration 8s --warmup 0s --dataset "$data" \
  --timeout 2s --connections 2 --json > "$state/failover.json" &
load=$!
sleep 2
victim=${masters[0]}
kill -9 "$(cat "$RECSTACK_STACK_DIR/pids/redis-$((victim - 6379 - off)).pid")"
killed=$(date +%s%N)
promoted_ms=null
for _ in $(seq 200); do
  n=0
  for p in $(seq $((6379 + off)) $((6384 + off))); do
    [ "$p" = "$victim" ] && continue
    redis-cli -p "$p" role 2>/dev/null | head -1 | grep -q master && n=$((n + 1))
  done
  if [ $n = 3 ]; then promoted_ms=$((($(date +%s%N) - killed) / 1000000)); break; fi
  sleep 0.05
done
wait $load
ingest_line=$("$bin/cluster_ingest_test" --gtest_filter='*MasterKilled*' | grep '^cluster ingest:')
echo "$ingest_line" >&2
# "cluster ingest: 100000 events in 7.2 s (13814/s, ...), master 0 killed after 33500
# acknowledged (...); 2 failed attempts retried; longest wait for an acknowledgement 2.93 s"
ingest_fault=$(sed -E 's/^cluster ingest: ([0-9]+) events in ([0-9.]+) s \(([0-9]+)\/s.*killed after ([0-9]+) acknowledged.*; ([0-9]+) failed attempts retried; longest wait for an acknowledgement ([0-9.]+) s$/{"events": \1, "seconds": \2, "events_per_second": \3, "acknowledged_at_kill": \4, "failed_attempts": \5, "longest_wait_s": \6, "logged_exactly_once": true}/' <<< "$ingest_line")
jq -e . <<< "$ingest_fault" >/dev/null || { echo "scale: cannot parse: $ingest_line" >&2; exit 1; }

jq -n \
  --slurpfile is "$state/ingest_single.json" --slurpfile ic "$state/ingest_cluster.json" \
  --slurpfile ic0 "$state/ingest_cluster_r0.json" \
  --slurpfile ss "$state/single-steps.json" --slurpfile cs "$state/cluster-steps.json" \
  --slurpfile scpu "$state/single-cpu.json" --slurpfile ccpu "$state/cluster-cpu.json" \
  --slurpfile budget "$root/docs/bench/loadtest_budget.json" \
  --slurpfile failover "$state/failover.json" --argjson ingest_fault "$ingest_fault" \
  --argjson promoted_ms "$promoted_ms" \
  --argjson kpm "$keys_per_master" --argjson uf "$user_factor" --argjson hist "$history" \
  --argjson marker "$marker" --argjson item_hash "$item_hash" \
  --argjson item_chunks "$item_chunks" --argjson n_items "$n_items" --argjson n_users "$n_users" \
  --argjson streams "$streams" --argjson events "$events" \
  --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
  --arg date "$(date -u +%Y-%m-%d)" '
  # Throughput: the highest rate answered with no error and at least 95%
  # full (not degraded) answers; on a machine this noisy the p99 is
  # reported beside it, not used to pick it.
  def knee(steps): [steps[] | select(.errors == 0 and .ok_not_degraded >= 0.95 * .count) | .achieved_rate] | max // 0;
  {
    command: "scripts/scale.sh",
    date: $date, cpu: $cpu, cores: 2,
    ingest: {
      single_events_per_second: $is[0].events_per_second,
      cluster_events_per_second: $ic[0].events_per_second,
      cluster_masters: $ic[0].masters,
      cluster_events_per_second_per_master: $ic[0].events_per_second_per_master,
      cluster_over_single: ($ic[0].events_per_second / $is[0].events_per_second),
      cluster_without_replicas_events_per_second: $ic0[0].events_per_second,
      cluster_without_replicas_over_single: ($ic0[0].events_per_second / $is[0].events_per_second),
      event_partitions: $ic[0].event_partitions
    },
    stack: {
      single: {steps: $ss[0], knee: knee($ss[0])},
      cluster: {steps: $cs[0], knee: knee($cs[0])},
      knee_cluster_over_single: (if knee($ss[0]) > 0 then knee($cs[0]) / knee($ss[0]) else null end),
      cpu: {single: $scpu[0], cluster: $ccpu[0]},
      # Capacity on the same cores: (cores - fixed cost) / marginal cost.
      cluster_over_single: ($ccpu[0].capacity_per_second / $scpu[0].capacity_per_second)
    },
    keys_per_master: $kpm,
    bytes: {
      per_user_factors: $uf.mean, per_user_history: $hist.mean,
      per_item_factors: ($item_chunks / $n_items), per_item_metadata: $item_hash.mean,
      per_event_stream_entry: ($streams / $events), per_event_dedupe_marker: $marker.mean,
      model: {users: $n_users, items: $n_items, factors: 64},
      sampled: {user_factors: $uf.sampled, histories: $hist.sampled, markers: $marker.sampled}
    },
    cpu_us_per_request: $budget[0].cpu_us_per_request,
    faults: {
      ingest_master_killed: $ingest_fault,
      recommend_master_killed: (($failover[0] | {rate, seconds, scheduled, completed, ok, ok_not_degraded,
        degraded, degraded_by_reason, errors, errors_by_code, p99_us, max_us})
        + {replica_promoted_after_ms: $promoted_ms})
    },
    cpu_source: "docs/bench/loadtest_budget.json (scripts/capacity.sh, 100k items)"
  }' > "$out"
echo "scale: wrote $out" >&2
jq -c '{ingest: .ingest.cluster_over_single, stack: .stack.cluster_over_single, keys_per_master, bytes}' "$out"
