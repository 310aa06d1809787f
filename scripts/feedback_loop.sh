#!/usr/bin/env bash
# The feedback loop, closed on data whose truth we know (issue 13,
# docs/rankers.md): a throwaway local stack on its own ports, a synthetic
# catalogue with a planted click model, then
#   1. log:    Recommend traffic with simulated clicks (position bias ETA)
#              and exploration, until IMPRESSIONS impressions are logged;
#   2. learn:  `recstack ranker train` for gbdt and logistic on those logs,
#              and `recstack ranker evaluate` (IPS/SNIPS) of each ranker;
#   3. test:   ranking restarted with an experiment linear vs gbdt at 50/50
#              (then linear vs logistic), IMPRESSIONS more impressions each,
#              and `recstack experiment report` on each.
# Writes docs/bench/feedback_loop.json (every figure, with the commands) and
# prints a summary. About 6-8 minutes on 2 cores; not part of CI (ctest
# label `loop`).
#
#   scripts/feedback_loop.sh [--impressions N] [--rate R] [--position-bias ETA]
#                            [--explore-rate F] [--out FILE] [--keep]
# --keep stops after step 2 and leaves the stack and its logs up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
impressions=200000
rate=200
eta=1
explore=0.1
out=docs/bench/feedback_loop.json
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --impressions) impressions=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --position-bias) eta=$2; shift 2 ;;
    --explore-rate) explore=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
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
RECSTACK_EXPLORE_RATE=$explore $stack up >/dev/null
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
for m in gbdt logistic; do
  $rs ranker train --addr "$trn" --model "$m" --wait --json > "$work/train_$m.json"
  jq -c '{model, version, rows, positives, auc, logloss, "ndcg@10", baseline}' "$work/train_$m.json"
done
for r in linear gbdt logistic; do
  $rs ranker evaluate --addr "$trn" --ranker "$r" --json > "$work/eval_$r.json"
done

ab() {  # ab NAME RANKER SEED: restart ranking and training with a 50/50 experiment
  local name=$1 treatment=$2 seed=$3
  cat > "$work/$name.json" <<JSON
{"experiments": [{"name": "$name", "salt": "$name", "variants": [
  {"name": "control", "ranker": "linear", "traffic": 0.5},
  {"name": "treatment", "ranker": "$treatment", "traffic": 0.5}]}]}
JSON
  for s in ranking training; do
    local pid
    pid=$(cat "$RECSTACK_STACK_DIR/pids/$s.pid")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  RECSTACK_EXPERIMENTS=$work/$name.json RECSTACK_EXPLORE_RATE=$explore $stack up >/dev/null
  echo "== 3. experiment $name: linear vs $treatment at 50/50, ${seconds}s at $rate/s"
  load "$seed" "$work/load_$name.json"
  wait_consumed
  $rs experiment report --addr "$trn" --experiment "$name" --json > "$work/report_$name.json"
  jq -c '{variants: [.variants[] | {name, ranker, ctr, ctr_ci}], comparisons: [.comparisons[] | {rel_lift, rel_lift_ci, p_value}], srm_p_value, mde_rel}' \
    "$work/report_$name.json"
}
[ $keep = 1 ] && exit 0
ab rank-gbdt gbdt 12
ab rank-logistic logistic 13

mkdir -p "$(dirname "$out")"
jq -n \
  --arg eta "$eta" --arg explore "$explore" --arg rate "$rate" --arg impressions "$impressions" \
  --slurpfile p1 "$work/phase1.json" \
  --slurpfile tg "$work/train_gbdt.json" --slurpfile tl "$work/train_logistic.json" \
  --slurpfile el "$work/eval_linear.json" --slurpfile eg "$work/eval_gbdt.json" \
  --slurpfile eo "$work/eval_logistic.json" \
  --slurpfile rg "$work/report_rank-gbdt.json" --slurpfile rl "$work/report_rank-logistic.json" \
  --slurpfile lg "$work/load_rank-gbdt.json" --slurpfile ll "$work/load_rank-logistic.json" '
  def ctr(r; v): (r.variants[] | select(.name == v) | .ctr);
  {
    command: "scripts/feedback_loop.sh --impressions \($impressions) --rate \($rate) --position-bias \($eta) --explore-rate \($explore)",
    data: "recstack datagen --users 5000 --items 2000 --interactions 150000 --seed 7",
    position_bias: ($eta | tonumber), explore_rate: ($explore | tonumber),
    oracle_ctr: $p1[0].click_baselines.oracle_ctr, random_ctr: $p1[0].click_baselines.random_ctr,
    logging: {impressions: $p1[0].clicks.impressions, ctr: $p1[0].clicks.ctr},
    train: {gbdt: $tg[0], logistic: $tl[0]},
    evaluate: {linear: $el[0], gbdt: $eg[0], logistic: $eo[0]},
    experiments: {
      gbdt: {report: $rg[0], load_by_variant: $lg[0].clicks.by_variant,
             ctr_ratio: (ctr($rg[0]; "treatment") / ctr($rg[0]; "control")),
             share_of_oracle: (ctr($rg[0]; "treatment") / $p1[0].click_baselines.oracle_ctr)},
      logistic: {report: $rl[0], load_by_variant: $ll[0].clicks.by_variant,
                 ctr_ratio: (ctr($rl[0]; "treatment") / ctr($rl[0]; "control")),
                 share_of_oracle: (ctr($rl[0]; "treatment") / $p1[0].click_baselines.oracle_ctr)},
      linear_share_of_oracle: (ctr($rg[0]; "control") / $p1[0].click_baselines.oracle_ctr)
    }
  }' > "$out"
jq -r '"gbdt/linear CTR \(.experiments.gbdt.ctr_ratio | .*1000|round/1000)x (rel lift CI \(.experiments.gbdt.report.comparisons[0].rel_lift_ci)), logistic/linear \(.experiments.logistic.ctr_ratio | .*1000|round/1000)x; oracle \(.oracle_ctr | .*10000|round/10000), random \(.random_ctr | .*10000|round/10000)"' "$out"
echo "wrote $out"
