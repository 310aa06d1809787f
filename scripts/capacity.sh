#!/usr/bin/env bash
# The serving-capacity measurement of docs/loadtest.md, unattended: a local
# stack on its own ports, a 100k-item synthetic catalogue whose events end
# now (so the trending window is full), ingested and trained through the API;
# then 30 s at 300/s, unmeasured, so the caches hold a running stack's
# working set; then
#   1. a sweep against the stack and the floor (echo) in the same run, with
#      the per-request Redis commands and CPU microseconds per service at
#      half the knee, run five times in pairs (the stack, then the floor;
#      the median pair reported)             -> docs/bench/loadtest_knee.json
#   2. 2x the knee for 20 s, then half the knee for 5 s, per second
#                                            -> docs/bench/loadtest_overload.json
# Everything on this machine's cores; ratios to the floor are what compare
# across machines. Takes 10-15 minutes on 2 cores.
#
#   scripts/capacity.sh [--embedded|--split] [--items N] [--sweep FROM:TO:STEP] [--out DIR] [--reuse]
#
# The stack's shape is deploy/local/stack.sh's: by default (and with
# --embedded) retrieval and ranking in the gateway's process; --split: five
# processes, retrieval and ranking reached over gRPC.
# --reuse: with RECSTACK_STACK_DIR from an earlier run, skip the ingest and
# the training (Redis keeps them) and measure again (either shape: Redis
# holds the same data).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${RECSTACK_BIN:-$root/build/bin}
items=100000
users=20000
interactions=1000000
sweep=200:2400:200
out=$root/docs/bench
reuse=0
shape=()  # stack.sh's: its default unless --embedded or --split
while [ $# -gt 0 ]; do
  case $1 in
    --embedded | --split) shape=("$1"); shift ;;
    --items) items=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --interactions) interactions=$2; shift 2 ;;
    --sweep) sweep=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --reuse) reuse=1; shift ;;
    *) echo "capacity.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"

export RECSTACK_STACK_DIR=${RECSTACK_STACK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/recstack-capacity.XXXXXX")}
export RECSTACK_PORT_OFFSET=${RECSTACK_PORT_OFFSET:-3000} RECSTACK_BIN=$bin
off=$RECSTACK_PORT_OFFSET
state=$RECSTACK_STACK_DIR
stack=$root/deploy/local/stack.sh
trap '"$stack" down >/dev/null 2>&1 || true' EXIT

retrieval_log=retrieval
retrieval_metrics=9103
metrics_of=(gateway:9100 ingestion:9101 retrieval:9103 ranking:9104)
# Which shape that is, as stack.sh decides it.
if [ "$("$stack" describe "${shape[@]}" | jq -r .embedded)" = true ]; then
  retrieval_log=gateway  # retrieval logs in the gateway's process
  retrieval_metrics=9100
  metrics_of=(gateway:9100 ingestion:9101)
fi
"$stack" up "${shape[@]}"
rs=$bin/recstack
data=$state/data
if [ ! -f "$data/interactions.csv" ]; then
  "$rs" datagen --users "$users" --items "$items" --interactions "$interactions" --zipf-exponent 0.5 \
    --seed 11 --end-time-ms now --out "$data" >/dev/null
fi
if [ "$reuse" = 0 ] || [ ! -f "$state/train.json" ]; then
  echo "== ingest $(($(wc -l < "$data/interactions.csv") - 1)) events"
  t0=$(date +%s.%N)
  "$rs" ingest --addr "127.0.0.1:$((50051 + off))" --items "$data/items.csv" "$data/interactions.csv" >/dev/null
  echo "ingest took $(echo "$(date +%s.%N) - $t0" | bc) s"
  echo "== train (implicit ALS through the service)"
  "$rs" train --addr "127.0.0.1:$((50052 + off))" --algo als-implicit --wait --quiet --json > "$state/train.json"
fi
jq -c '{model_version, state, users, items, interactions, seconds}' "$state/train.json"
version=$(jq -r .model_version "$state/train.json")
# Retrieval loads the version, builds HNSW and the neighbour table in the
# background; measure once both are there.
echo "== wait for retrieval's indexes of $version"
for _ in $(seq 600); do
  # Only what this retrieval process logged (the log is appended to).
  if awk '/"msg":"listening"/ {n = NR} {line[NR] = $0} END {for (i = n; i <= NR; i++) print line[i]}' \
       "$state/logs/$retrieval_log.log" 2>/dev/null | grep -q "neighbours built.*\"$version\""; then
    break
  fi
  sleep 1
done
grep "hnsw built\|neighbours built" "$state/logs/$retrieval_log.log" | tail -2

gw=127.0.0.1:$((50050 + off))
redis_url=redis://127.0.0.1:$((6379 + off))
metrics=$(for m in "${metrics_of[@]}"; do printf '%s=127.0.0.1:%d,' "${m%:*}" $((${m#*:} + off)); done)
metrics=${metrics%,}
lt=$bin/recstack-loadtest
"$rs" recommend --addr "$gw" --user u1 --k 10 --debug --json > "$state/one.json" || true

# The processes have just started: their caches (user vectors, item
# metadata, trending counts) are empty and their memory untouched. A
# running stack's are not, and the knee is a running stack's, so the caches
# fill first at a low rate, unmeasured.
echo "== warm-up: 300/s for 30 s (not measured)"
"$lt" --addr "$gw" --dataset "$data" --rate 300 --duration 30s --warmup 1s >/dev/null
# Retrieval's history cache since start ({hit, miss, live}; absent: none).
history_cache() {
  curl -sf "http://127.0.0.1:$((retrieval_metrics + off))/metrics" |
    awk -F'[{}"= ]+' '/^recstack_retrieval_history_cache\{/ {printf "%s\"%s\":%s", sep, $3, $NF; sep=","}
                      END {print ""}' | sed 's/^/{/; s/$/}/'
}
cache_warm=$(history_cache) || cache_warm='{}'
echo "== sweep $sweep (p99 SLO 50 ms) with the floor; Redis and CPU per request at half the knee"
"$lt" --addr "$gw" --dataset "$data" --sweep "$sweep" --duration 5s --warmup 2s --slo 50ms --floor \
  --half-knee-repeats 5 --redis-url "$redis_url" --metrics "$metrics" --json > "$out/loadtest_knee.json"
cache_swept=$(history_cache) || cache_swept='{}'
jq --argjson warm "$cache_warm" --argjson swept "$cache_swept" \
  '. + {history_cache: {after_warmup: $warm, after_sweep: $swept}}' "$out/loadtest_knee.json" \
  > "$out/loadtest_knee.json.tmp" && mv "$out/loadtest_knee.json.tmp" "$out/loadtest_knee.json"
jq -c '{knee_rate, floor_knee_rate, knee_over_floor, p99_over_floor,
        p99_over_floor_each: [.half_knee.repeats[]?.p99_over_floor], redis_commands_per_request,
        redis_catalogue_sized_per_second, cpu_us_per_request, history_cache}' "$out/loadtest_knee.json"
knee=$(jq -r '.knee_rate // empty' "$out/loadtest_knee.json")
if [ -z "$knee" ]; then
  echo "capacity.sh: no knee found" >&2
  exit 1
fi
over=$(echo "$knee * 2" | bc)
half=$(echo "$knee / 2" | bc)
echo "== overload: $over/s (2x the knee) for 20 s, then $half/s for 5 s"
"$lt" --addr "$gw" --dataset "$data" --rate "$over" --duration 20s --warmup 1s --then "$half:5s" --timeline \
  --timeout 1s --redis-url "$redis_url" --metrics "$metrics" --json > "$out/loadtest_overload.json"
jq -c '{rate, achieved_rate, scheduled, ok, errors_by_code, degraded, degraded_by_reason, p99_us, max_us}' \
  "$out/loadtest_overload.json"
jq -c '.timeline[] | {second, rate, ok, errors, degraded, p99_us}' "$out/loadtest_overload.json"
cp "$state/one.json" "$out/loadtest_one_recommend.json"
echo "capacity.sh: wrote $out/loadtest_knee.json, $out/loadtest_overload.json"
