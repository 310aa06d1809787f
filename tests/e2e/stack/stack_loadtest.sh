#!/usr/bin/env bash
# Starts the local stack on free ports in a temporary state folder, loads a
# small synthetic data set through the API, trains through the API, then runs
# the load generator for a few seconds and checks its numbers are sane:
# achieved rate within 5% of the target, no errors, percentiles ordered,
# every scheduled request answered; then a short overload, which must be
# answered (degraded allowed) without UNAVAILABLE; then simulated clicks
# flow back through the gateway. Stops the stack and checks nothing is left running.
#
# RECSTACK_STACK_OPTIONS (e.g. "--redis-cluster 3", "--tls") goes to stack.sh
# up; with --tls every client of the script (the CLI, the load generator)
# uses the stack's client certificate (RECSTACK_TLS_*); on a cluster the
# script also checks how the keys spread over the masters and
# kills a master (kill -9) under Recommend load: answers go on (degraded
# allowed, no UNAVAILABLE or INTERNAL) and the cluster recovers. With
# --redis-acl (the single-Redis run in ctest): every step above runs with each
# service under its own least-privilege Redis user, no service log shows an
# ACL refusal, and a client without a user is refused by Redis.
set -euo pipefail
read -r -a stack_opts <<< "${RECSTACK_STACK_OPTIONS:-}"
cluster=0
[[ " ${stack_opts[*]} " != *" --redis-cluster "* ]] || cluster=1
acl=0
[[ " ${stack_opts[*]} " != *" --redis-acl "* ]] || acl=1
bin=$(cd "$1" && pwd)
overload_rate=${2:-1500}
root=$(cd "$(dirname "$0")/../../.." && pwd)
stack=$root/deploy/local/stack.sh

. "$(dirname "$0")/ports.sh"

state=$(mktemp -d "${TMPDIR:-/tmp}/recstack-e2e-stack.XXXXXX")
offset=$(pick_offset 6379 6380 6381 6382 6383 6384 16379 16380 16381 16382 16383 \
                     16384 50050 50051 50052 50053 50054 8080 9100 9101 9102 9103 9104)
export RECSTACK_STACK_DIR=$state RECSTACK_BIN=$bin RECSTACK_PORT_OFFSET=$offset
off=$RECSTACK_PORT_OFFSET
cleanup() {
  "$stack" down >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

"$stack" up "${stack_opts[@]}" || fail "stack did not come up"
# redis-cli as the admin user when the default user is off (--redis-acl).
redis_auth=()
[ $acl = 0 ] || redis_auth=(--user admin --pass "$(cat "$state/redis/acl/admin.password")" --no-auth-warning)
if [[ " ${stack_opts[*]} " == *" --tls "* ]]; then
  export RECSTACK_TLS_CERT=$state/tls/client.pem RECSTACK_TLS_KEY=$state/tls/client-key.pem \
    RECSTACK_TLS_CA=$state/tls/ca.pem
fi
rs=$bin/recstack
data=$state/data
"$rs" datagen --users 400 --items 300 --interactions 12000 --seed 3 --out "$data" >/dev/null
"$rs" ingest --addr "127.0.0.1:$((50051 + off))" --items "$data/items.csv" "$data/interactions.csv" >/dev/null
"$rs" train --addr "127.0.0.1:$((50052 + off))" --algo als-implicit --iterations 5 --wait --quiet --json \
  > "$state/train.json" || fail "training job failed"
jq -e '.model_version | length > 0' "$state/train.json" >/dev/null || fail "no model_version: $(cat "$state/train.json")"
gw=127.0.0.1:$((50050 + off))
# Retrieval picks the new version up from rs:model:updates.
for _ in $(seq 50); do
  v=$("$rs" recommend --addr "$gw" --user u1 --k 5 --json | jq -r '.model_version // ""')
  [ -n "$v" ] && break
  sleep 0.2
done
[ -n "$v" ] || fail "the gateway never answered from a model"

echo "== load: 100 requests/s for 4 s (recommend 80%, ingest 10%, similar 10%)"
"$bin/recstack-loadtest" --addr "$gw" --rate 100 --duration 4s --warmup 1s --dataset "$data" \
  --mix recommend=80,ingest=10,similar=10 --connections 2 --json > "$state/load.json" || fail "loadtest failed"
jq -c '{achieved_rate, errors, completed, scheduled, p50_us, p90_us, p99_us, p999_us, max_us}' "$state/load.json"
jq -e '
  (.achieved_rate >= 95 and .achieved_rate <= 105) and .errors == 0 and
  .completed == .scheduled and .scheduled == 400 and
  .p50_us > 0 and .p50_us <= .p90_us and .p90_us <= .p99_us and .p99_us <= .p999_us and
  .p999_us <= .max_us and (.ops | has("recommend") and has("ingest") and has("similar"))
' "$state/load.json" >/dev/null || fail "load-test figures out of bounds: $(cat "$state/load.json")"

echo "== overload: $overload_rate requests/s for 3 s, then 50/s for 2 s (degraded answers allowed, no UNAVAILABLE)"
"$bin/recstack-loadtest" --addr "$gw" --rate "$overload_rate" --duration 3s --warmup 0s --then 50:2s --timeline \
  --dataset "$data" --timeout 2s --connections 4 --json > "$state/overload.json" || fail "overload loadtest failed"
jq -c '{achieved_rate, ok, errors, errors_by_code, degraded, degraded_by_reason, p99_us, max_us}' "$state/overload.json"
jq -e '
  (.errors_by_code | has("UNAVAILABLE") | not) and (.errors_by_code | has("INTERNAL") | not) and
  (.ok / .scheduled) >= 0.9 and .completed == .scheduled and (.timeline | length) == 5
' "$state/overload.json" >/dev/null || fail "overload figures out of bounds: $(cat "$state/overload.json")"
# After the overload the stack serves full answers again.
"$rs" recommend --addr "$gw" --user u1 --k 5 --json > "$state/after.json" || fail "recommend after the overload failed"
jq -e '.items | length == 5' "$state/after.json" >/dev/null || fail "no answer after the overload: $(cat "$state/after.json")"

if [ $cluster = 1 ]; then
  echo "== cluster: keys per master after the ingest and training"
  masters=()
  for p in $(seq $((6379 + off)) $((6384 + off))); do
    redis-cli "${redis_auth[@]}" -p "$p" role | head -1 | grep -q master && masters+=("$p")
  done
  [ ${#masters[@]} = 3 ] || fail "expected 3 masters, found ${#masters[@]}"
  sizes=()
  for p in "${masters[@]}"; do sizes+=("$(redis-cli "${redis_auth[@]}" -p "$p" dbsize)"); done
  total=$((sizes[0] + sizes[1] + sizes[2]))
  echo "keys per master: ${sizes[*]} (of $total)"
  for n in "${sizes[@]}"; do
    [ $((n * 100)) -ge $((total * 20)) ] && [ $((n * 100)) -le $((total * 47)) ] \
      || fail "a master holds $n of $total keys (outside 20-47%)"
  done
  echo "== cluster: a master killed under Recommend load (50/s for 8 s, kill -9 after 2 s)"
  "$bin/recstack-loadtest" --addr "$gw" --rate 50 --duration 8s --warmup 0s --dataset "$data" \
    --timeout 2s --connections 2 --timeline --json > "$state/failover.json" &
  load=$!
  sleep 2
  victim=${masters[0]}
  kill -9 "$(cat "$state/pids/redis-$((victim - 6379 - off)).pid")"
  wait $load || fail "loadtest during the failover failed"
  jq -c '{ok, errors, errors_by_code, degraded, degraded_by_reason, p99_us, max_us}' "$state/failover.json"
  jq -e '
    (.errors_by_code | has("UNAVAILABLE") | not) and (.errors_by_code | has("INTERNAL") | not) and
    .completed == .scheduled and (.ok / .scheduled) >= 0.95
  ' "$state/failover.json" >/dev/null || fail "failover figures out of bounds: $(cat "$state/failover.json")"
  # Recovered: a replica took over, writes and full answers work again.
  promoted=0
  for _ in $(seq 100); do
    n=0
    for p in $(seq $((6379 + off)) $((6384 + off))); do
      [ "$p" = "$victim" ] && continue
      redis-cli "${redis_auth[@]}" -p "$p" role 2>/dev/null | head -1 | grep -q master && n=$((n + 1))
    done
    [ $n = 3 ] && { promoted=1; break; }
    sleep 0.1
  done
  [ $promoted = 1 ] || fail "no replica took over from the killed master"
  "$rs" recommend --addr "$gw" --user u1 --k 5 --json > "$state/after-failover.json" \
    || fail "recommend after the failover failed"
  jq -e '.items | length == 5' "$state/after-failover.json" >/dev/null \
    || fail "no answer after the failover: $(cat "$state/after-failover.json")"
fi

echo "== simulated clicks: 50 requests/s for 2 s"
"$bin/recstack-loadtest" --addr "$gw" --rate 50 --duration 2s --warmup 0s --simulate-clicks "$data" \
  --json > "$state/clicks.json" || fail "loadtest --simulate-clicks failed"
jq -c '.clicks' "$state/clicks.json"
jq -e '.errors == 0 and .clicks.impressions >= 500 and .clicks.click_requests_failed == 0 and
       .click_baselines.oracle_ctr > .click_baselines.random_ctr' "$state/clicks.json" >/dev/null \
  || fail "click simulation figures out of bounds: $(cat "$state/clicks.json")"

echo "== the feedback log holds every item the gateway logged as shown"
# One IMPRESSION event per answer goes gateway -> ingestion -> the event log
# -> the training service's consumer, which keeps one impression per item.
metric() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 ~ "^"m {s += $2} END {print s + 0}'
}
# A batch whose call failed (a deadline in the overload step) may still have
# been written: held is at least what was sent and at most sent + failed.
sent=0 failed=0 held=-1
for _ in $(seq 150); do
  sent=$(metric $((9100 + off)) 'recstack_gateway_impressions_total\{outcome="sent"')
  failed=$(metric $((9100 + off)) 'recstack_gateway_impressions_total\{outcome="failed"')
  held=$(metric $((9102 + off)) 'recstack_training_feedback_impressions')
  [ "$sent" -gt 0 ] && [ "$held" -ge "$sent" ] && [ "$held" -le $((sent + failed)) ] && break
  sleep 0.2
done
echo "impressions sent by the gateway $sent (failed $failed), held by the training service $held"
[ "$sent" -gt 0 ] && [ "$held" -ge "$sent" ] && [ "$held" -le $((sent + failed)) ] ||
  fail "the feedback log holds $held impressions, the gateway sent $sent (failed $failed)"

if [ $acl = 1 ]; then
  echo "== least privilege: no ACL refusal in any log; no user, no access"
  ! grep -l "NOPERM\|refused it by ACL" "$state"/logs/*.log || fail "a service was refused by the ACL"
  # Every node that runs (a cluster's killed master does not) refuses it.
  refused=0
  for p in $(seq $((6379 + off)) $((6379 + off + 5))); do
    reply=$(redis-cli -p "$p" get rs:model:current 2>&1 || true)
    [[ $reply != *"Connection refused"* ]] || continue
    [[ $reply == *NOAUTH* ]] || fail "redis on port $p answered a client without a user: $reply"
    refused=$((refused + 1))
  done
  [ $refused -ge 1 ] || fail "no Redis node to ask"
fi

"$stack" down
for f in "$state"/pids/*.pid; do
  [ -e "$f" ] && fail "pid file left behind: $f"
done
if pgrep -f "recstack-.*:$((50050 + off))" >/dev/null; then fail "a service still runs"; fi
echo "PASS"
