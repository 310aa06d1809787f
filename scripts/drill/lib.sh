# Sourced by scripts/drill.sh and scripts/soak.sh: a fresh local stack with
# a trained model, the knee, and the figures both read off it.
#
#   fresh_stack DIR        deploy/local/stack.sh up in state folder DIR on a free
#                          port offset (tests/e2e/stack/ports.sh), the catalogue
#                          ingested ($data), one model trained, the gateway
#                          answering from it. Sets state, off, gw, ingestion_addr,
#                          training_addr, redis_port, metrics_port[NAME].
#   measure_knee FILE      a short sweep (recommend=80,ingest=20, p99 SLO 50 ms):
#                          the loadtest's JSON to FILE, the knee on stdout (empty
#                          when the first step already misses)
#   metric_sum PORT REGEX  the sum of the samples of /metrics on PORT whose line
#                          matches REGEX (0 when none)
#   internal_errors        INTERNAL answers counted by every service's
#                          recstack_rpc_requests_total since it started
#   logged_ids PREFIX      every event id in the event log (rs:events) that
#                          starts with PREFIX, one per line, in log order
#   now_ms, sleep_until_ms MS
#
# Needs $bin (the binaries) and $work (a scratch folder); $data is made once
# per $work by make_catalogue.
export LC_ALL=C  # sort and comm agree on the order
lib_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
stack=$lib_root/deploy/local/stack.sh
. "$lib_root/tests/e2e/stack/ports.sh"

# The catalogue: small enough to ingest and train in seconds, large enough
# that every user has a history and the model a real top-k.
catalogue_args=(--users 2000 --items 1000 --interactions 50000 --seed 7 --end-time-ms now)
# The load: Recommend and IngestEvents through the gateway.
mix=recommend=80,ingest=20
slo_ms=50
services=(gateway ingestion training retrieval ranking)

now_ms() { date +%s%3N; }
sleep_until_ms() {
  local d=$(($1 - $(now_ms)))
  [ "$d" -le 0 ] || sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
}

make_catalogue() {
  data=$work/data
  [ -f "$data/interactions.csv" ] && return
  "$bin/recstack" datagen "${catalogue_args[@]}" --out "$data" >/dev/null
}

fresh_stack() {
  state=$1
  mkdir -p "$state"
  off=$(pick_offset 6379 50050 50051 50052 50053 50054 8080 9100 9101 9102 9103 9104)
  export RECSTACK_STACK_DIR=$state RECSTACK_BIN=$bin RECSTACK_PORT_OFFSET=$off
  gw=127.0.0.1:$((50050 + off))
  ingestion_addr=127.0.0.1:$((50051 + off))
  training_addr=127.0.0.1:$((50052 + off))
  redis_port=$((6379 + off))
  declare -gA metrics_port=([gateway]=$((9100 + off)) [ingestion]=$((9101 + off))
                            [training]=$((9102 + off)) [retrieval]=$((9103 + off))
                            [ranking]=$((9104 + off)))
  "$stack" up --split >"$state/stack-up.log" 2>&1 || fail "the stack did not come up: $(cat "$state/stack-up.log")"
  make_catalogue
  "$bin/recstack" ingest --addr "$ingestion_addr" --items "$data/items.csv" "$data/interactions.csv" \
    >"$state/ingest.log" 2>&1 || fail "ingest failed: $(tail -3 "$state/ingest.log")"
  train_model >/dev/null
  wait_for_version "$(current_version)" >/dev/null
}

# Trains one model version through the training service; prints it.
train_model() {
  "$bin/recstack" train --addr "$training_addr" --algo als-implicit --iterations 5 --wait --quiet \
    --json >"$state/train.json" || fail "training failed: $(cat "$state/train.json")"
  jq -r .model_version "$state/train.json"
}

current_version() {
  "$bin/recstack" models --addr "$training_addr" --json | jq -r .current_version
}

# The model_version of one gateway answer (empty when none).
answer_version() {
  "$bin/recstack" recommend --addr "$gw" --user "${1:-u1}" --k 5 --json 2>/dev/null |
    jq -r '.model_version // ""' 2>/dev/null || true
}

# Waits (at most $2 ms, default 30 s) until the gateway answers from version
# $1; prints the milliseconds it took, fails after the wait.
wait_for_version() {
  local want=$1 t0 limit
  t0=$(now_ms)
  limit=$((t0 + ${2:-30000}))
  while [ "$(now_ms)" -lt "$limit" ]; do
    if [ "$(answer_version u1)" = "$want" ]; then
      echo $(($(now_ms) - t0))
      return
    fi
    sleep 0.1
  done
  fail "the gateway did not answer from model $want within $((${2:-30000} / 1000)) s"
}

measure_knee() {
  "$bin/recstack-loadtest" --addr "$gw" --dataset "$data" --mix "$mix" --sweep 25:600:25 \
    --duration 3s --warmup 1s --slo "${slo_ms}ms" --timeout 5s --json >"$1" 2>"$1.err" ||
    fail "the knee sweep failed: $(cat "$1.err")"
  jq -r '.knee_rate // empty' "$1"
}

metric_sum() {
  curl -s --max-time 2 "http://127.0.0.1:$1/metrics" |
    awk -v re="$2" '$0 !~ /^#/ && $0 ~ re { s += $NF } END { printf "%d\n", s }'
}

internal_errors() {
  local s n=0
  for s in "${services[@]}"; do
    n=$((n + $(metric_sum "${metrics_port[$s]}" '^recstack_rpc_requests_total\{.*code="INTERNAL"')))
  done
  echo $n
}

# The processes of the stack that are not running.
dead_processes() {
  local s pid dead=()
  for s in redis "${services[@]}"; do
    pid=$(cat "$state/pids/$s.pid" 2>/dev/null || echo 0)
    # A zombie (killed, not reaped) answers kill -0 but is not running.
    if ! kill -0 "$pid" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
      dead+=("$s")
    fi
  done
  echo "${dead[*]}"
}

# The ids of the event log whose id starts with ARGV[1], one page of up to
# 5000 entries after stream id ARGV[2] per call (short calls: Redis serves
# the others between pages): the last entry's stream id ("" at the end),
# then the matching ids.
read -r -d '' log_page_lua <<'LUA' || true
local page = redis.call('XRANGE', KEYS[1], '(' .. ARGV[2], '+', 'COUNT', 5000)
local out = {#page < 5000 and '' or page[#page][1]}
for _, e in ipairs(page) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'id' then
      if string.sub(f[i + 1], 1, #ARGV[1]) == ARGV[1] then out[#out + 1] = f[i + 1] end
      break
    end
  end
end
return out
LUA

# Every id of the event log that starts with $1, one per line.
logged_ids() {
  local after=0-0 page
  while [ -n "$after" ]; do
    page=$(redis-cli -p "$redis_port" --raw EVAL "$log_page_lua" 1 rs:events "$1" "$after")
    after=$(head -1 <<<"$page")
    tail -n +2 <<<"$page" | sed '/^$/d'
  done
}
