#!/usr/bin/env bash
# The feedback loop, closed on data whose truth we know (issue 13,
# docs/rankers.md): a throwaway local stack on its own ports, a synthetic
# catalogue with a planted click model, then
#   1. log:    Recommend traffic with simulated clicks (position bias ETA)
#              and exploration, until IMPRESSIONS impressions are logged;
#   2. learn:  `recstack ranker train` for gbdt and logistic on those logs,
#              and `recstack ranker evaluate` (IPS/SNIPS) of each ranker;
#   3. test:   ranking restarted with an experiment linear vs gbdt at 50/50,
#              then one of linear, logistic and gbdt (ips) at 1/3 each,
#              IMPRESSIONS more impressions each, and `recstack experiment
#              report` on each.
# Writes docs/bench/feedback_loop.json (every figure, with the commands) and
# prints a summary. About 8 minutes on 2 cores; not part of CI (ctest
# label `loop`).
#
#   scripts/feedback_loop.sh [--impressions N] [--rate R] [--position-bias ETA]
#                            [--explore-rate F] [--out FILE] [--keep]
# --keep stops after step 2 and leaves the stack and its logs up. --check
# exits 1 unless gbdt's CTR is at least 1.5x linear's with the 95% CI of the
# relative lift above 0 (the issue's target; ctest label `loop`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
impressions=200000
rate=200
eta=1
explore=0.1
out=docs/bench/feedback_loop.json
keep=0
check=0
while [ $# -gt 0 ]; do
  case $1 in
    --impressions) impressions=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --position-bias) eta=$2; shift 2 ;;
    --explore-rate) explore=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "feedback_loop.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${RECSTACK_BIN:-$root/build/bin}
for b in recstack recstack-loadtest recstack-gateway recstack-ranking recstack-training; do
  [ -x "$bin/$b" ] || { echo "feedback_loop.sh: $bin/$b missing: build first" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "feedback_loop.sh: needs jq" >&2; exit 2; }

work=$(mktemp -d /tmp/recstack-loop.XXXXXX)
export RECSTACK_STACK_DIR=$work/stack RECSTACK_PORT_OFFSET=${RECSTACK_PORT_OFFSET:-700} RECSTACK_BIN=$bin
off=$RECSTACK_PORT_OFFSET
gw=127.0.0.1:$((50050 + off)); ing=127.0.0.1:$((50051 + off)); trn=127.0.0.1:$((50052 + off))
stack=deploy/local/stack.sh
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    for s in training ranking gateway; do
      echo "--- $s.log (tail)" >&2
      tail -5 "$RECSTACK_STACK_DIR/logs/$s.log" >&2 2>/dev/null || true
    done
  fi
  if [ $keep = 1 ]; then
    echo "kept: RECSTACK_STACK_DIR=$RECSTACK_STACK_DIR RECSTACK_PORT_OFFSET=$off, data in $work/data" >&2
    return
  fi
  $stack down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rs=$bin/recstack
k=10
# Requests for IMPRESSIONS impressions at k items each, at RATE a second.
seconds=$(( (impressions / k + rate - 1) / rate ))

# A stack left on these ports (a previous run still shutting down) would be
# joined instead of started: wait for the ports to be free.
for _ in $(seq 100); do
  redis-cli -p $((6379 + off)) ping >/dev/null 2>&1 || break
  sleep 0.2
done
if redis-cli -p $((6379 + off)) ping >/dev/null 2>&1; then
  echo "feedback_loop.sh: port $((6379 + off)) is taken: set RECSTACK_PORT_OFFSET" >&2
  exit 2
fi
echo "== stack on ports +$off, exploration $explore"
RECSTACK_EXPLORE_RATE=$explore $stack up --split >/dev/null
data=$work/data
$rs datagen --users 5000 --items 2000 --interactions 150000 --seed 7 \
  --end-time-ms "$(date +%s%3N)" --out "$data" >/dev/null
$rs ingest --addr "$ing" --items "$data/items.csv" "$data/interactions.csv" >/dev/null
$rs train --addr "$trn" --algo als-implicit --wait --quiet >/dev/null

load() {  # load SEED OUT: one phase of Recommends with simulated clicks
  "$bin/recstack-loadtest" --addr "$gw" --rate "$rate" --duration "${seconds}s" --warmup 0s \
    --k "$k" --seed "$1" --simulate-clicks "$data" --position-bias "$eta" --json > "$2"
}
wait_consumed() {  # until training's feedback log has caught up with the stream
  sleep 3
}

echo "== 1. logging: ${seconds}s at $rate Recommend/s (linear ranker, clicks with position bias $eta)"
load 11 "$work/phase1.json"
wait_consumed
echo "== 2. learning from the logs"
# gbdt with the ips treatment of position first (a version to pin), then
# gbdt with the position feature (the default, left current) and logistic.
$rs ranker train --addr "$trn" --model gbdt --position ips --wait --json > "$work/train_gbdt_ips.json"
gbdt_ips=$(jq -r .version "$work/train_gbdt_ips.json")
for m in gbdt logistic; do
  $rs ranker train --addr "$trn" --model "$m" --wait --json > "$work/train_$m.json"
done
for f in gbdt_ips gbdt logistic; do
  jq -c '{model, version, rows, positives, auc, logloss, "ndcg@10", baseline}' "$work/train_$f.json"
done
for r in linear gbdt logistic; do
  $rs ranker evaluate --addr "$trn" --ranker "$r" --json > "$work/eval_$r.json"
done
$rs ranker evaluate --addr "$trn" --ranker "gbdt@$gbdt_ips" --json > "$work/eval_gbdt_ips.json"

# experiment NAME SEED ARM...: restart ranking and training with an experiment
# of equal shares, control `linear` then each ARM (name=ranker), and run it.
experiment() {
  local name=$1 seed=$2
  shift 2
  local n=$(($# + 1)) variants
  variants=$(printf '{"name": "control", "ranker": "linear", "traffic": %s}' "$(jq -n "1/$n")")
  for arm in "$@"; do
    variants+=$(printf ', {"name": "%s", "ranker": "%s", "traffic": %s}' "${arm%%=*}" "${arm#*=}" "$(jq -n "1/$n")")
  done
  echo "{\"experiments\": [{\"name\": \"$name\", \"salt\": \"$name\", \"variants\": [$variants]}]}" > "$work/$name.json"
  for s in ranking training; do
    local pid
    pid=$(cat "$RECSTACK_STACK_DIR/pids/$s.pid")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  RECSTACK_EXPERIMENTS=$work/$name.json RECSTACK_EXPLORE_RATE=$explore $stack up --split >/dev/null
  echo "== 3. experiment $name: linear vs $* (equal shares), ${seconds}s at $rate/s"
  load "$seed" "$work/load_$name.json"
  wait_consumed
  $rs experiment report --addr "$trn" --experiment "$name" --json > "$work/report_$name.json"
  jq -c '{variants: [.variants[] | {name, ranker, ctr, ctr_ci}], comparisons: [.comparisons[] | {variant, rel_lift, rel_lift_ci, p_value}], srm_p_value, mde_rel}' \
    "$work/report_$name.json"
}
[ $keep = 1 ] && exit 0
# The target: linear vs gbdt at 50/50.
experiment rank-gbdt 12 treatment=gbdt
# Logistic, and gbdt with the other treatment of position bias.
experiment rank-more 13 logistic=logistic gbdt-ips="gbdt@$gbdt_ips"

mkdir -p "$(dirname "$out")"
jq -n \
  --arg eta "$eta" --arg explore "$explore" --arg rate "$rate" --arg impressions "$impressions" \
  --slurpfile p1 "$work/phase1.json" \
  --slurpfile tg "$work/train_gbdt.json" --slurpfile tl "$work/train_logistic.json" \
  --slurpfile ti "$work/train_gbdt_ips.json" \
  --slurpfile el "$work/eval_linear.json" --slurpfile eg "$work/eval_gbdt.json" \
  --slurpfile eo "$work/eval_logistic.json" --slurpfile ei "$work/eval_gbdt_ips.json" \
  --slurpfile rg "$work/report_rank-gbdt.json" --slurpfile rm "$work/report_rank-more.json" \
  --slurpfile lg "$work/load_rank-gbdt.json" --slurpfile lm "$work/load_rank-more.json" '
  def ctr(r; v): (r.variants[] | select(.name == v) | .ctr);
  $p1[0].click_baselines.oracle_ctr as $oracle
  | {
    command: "scripts/feedback_loop.sh --impressions \($impressions) --rate \($rate) --position-bias \($eta) --explore-rate \($explore)",
    data: "recstack datagen --users 5000 --items 2000 --interactions 150000 --seed 7",
    position_bias: ($eta | tonumber), explore_rate: ($explore | tonumber),
    oracle_ctr: $oracle, random_ctr: $p1[0].click_baselines.random_ctr,
    logging: {impressions: $p1[0].clicks.impressions, ctr: $p1[0].clicks.ctr},
    train: {gbdt: $tg[0], logistic: $tl[0], gbdt_ips: $ti[0]},
    evaluate: {linear: $el[0], gbdt: $eg[0], logistic: $eo[0], gbdt_ips: $ei[0]},
    experiments: {
      "rank-gbdt": {report: $rg[0], load_by_variant: $lg[0].clicks.by_variant},
      "rank-more": {report: $rm[0], load_by_variant: $lm[0].clicks.by_variant}
    },
    ratios: {
      gbdt: (ctr($rg[0]; "treatment") / ctr($rg[0]; "control")),
      logistic: (ctr($rm[0]; "logistic") / ctr($rm[0]; "control")),
      gbdt_ips: (ctr($rm[0]; "gbdt-ips") / ctr($rm[0]; "control"))
    },
    share_of_oracle: {
      linear: (ctr($rg[0]; "control") / $oracle),
      gbdt: (ctr($rg[0]; "treatment") / $oracle),
      logistic: (ctr($rm[0]; "logistic") / $oracle),
      gbdt_ips: (ctr($rm[0]; "gbdt-ips") / $oracle)
    }
  }' > "$out"
jq -r '"gbdt/linear CTR \(.ratios.gbdt | .*1000|round/1000)x (relative lift CI \(.experiments["rank-gbdt"].report.comparisons[0].rel_lift_ci)); logistic \(.ratios.logistic | .*1000|round/1000)x, gbdt (ips) \(.ratios.gbdt_ips | .*1000|round/1000)x; oracle \(.oracle_ctr | .*10000|round/10000), random \(.random_ctr | .*10000|round/10000)"' "$out"
echo "wrote $out"
if [ $check = 1 ]; then
  jq -e '.ratios.gbdt >= 1.5 and .experiments["rank-gbdt"].report.comparisons[0].rel_lift_ci[0] > 0' \
    "$out" >/dev/null || { echo "feedback_loop.sh: gbdt did not beat linear 1.5x with a CI above 0" >&2; exit 1; }
fi
