#!/usr/bin/env bash
# The ML system-design walkthrough's figures (docs/walkthrough/README.md),
# regenerated unattended from commands, nothing typed by hand:
#   offline, on MovieLens 100K (../shared/data/ml-100k; seeded, identical on
#   every run):
#     overfitting      train vs test RMSE (als-explicit) and NDCG@10
#                      (als-implicit) over lambda and over factors, on u1
#     optimizers       sgd-explicit with sgd, momentum, adagrad and adam vs
#                      ALS and Gibbs: test RMSE per epoch and per second, u1
#     cold_start       `recstack coldstart`: new users folded in vs trained
#   on a throwaway local stack (its own ports and state folder) with a
#   synthetic catalogue and a planted click model:
#     feature_scaling  the logistic ranker's loss per epoch with and without
#                      standardization, missing values imputed vs dropped
#     explainability   one user's gbdt recommendation with its TreeSHAP
#                      contributions; global importance (mean |SHAP|)
#     ab_test          an A/A and an A/B from the click simulator, their
#                      readouts, and the sample size for a 2% lift
#     capacity         a load sweep with the floor (the knee), the per-stage
#                      budget, and a capacity plan for 100M users / 10M items
#                      / 20k Recommend/s from the measured inputs
#     failure_modes    what a Recommend answers with ranking, retrieval or
#                      Redis down
# Writes docs/walkthrough/figures.json (every figure's numbers with the
# command that made it), the SVG plots under docs/walkthrough/figures/
# (gnuplot), and regenerates the walkthrough's tables (scripts/bench_tables.sh).
# About 7 minutes on 2 cores (figures.json records it), after ./scripts/test.sh built build/bin.
#
#   scripts/walkthrough.sh [--out DIR] [--keep]
#
# --out writes figures.json and figures/ there instead (the docs' tables are
# then left alone); --keep leaves the stack up at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=docs/walkthrough
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "walkthrough.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${RECSTACK_BIN:-$root/build/bin}
for b in recstack recstack-loadtest recstack-gateway recstack-ingestion recstack-training \
  recstack-retrieval recstack-ranking; do
  [ -x "$bin/$b" ] || { echo "walkthrough.sh: $bin/$b missing: run ./scripts/test.sh first" >&2; exit 2; }
done
for t in jq gnuplot curl redis-cli; do
  command -v $t >/dev/null || { echo "walkthrough.sh: needs $t (scripts/deps.sh installs it)" >&2; exit 2; }
done
ml=${RECSTACK_DATA_DIR:-$root/../shared/data}/ml-100k
[ -f "$ml/u1.base" ] || { echo "walkthrough.sh: MovieLens 100K not found in $ml" >&2; exit 2; }
ml_shown='../shared/data/ml-100k'
rs=$bin/recstack
lt=$bin/recstack-loadtest
started=$(date +%s)
work=$(mktemp -d /tmp/recstack-walkthrough.XXXXXX)
mkdir -p "$out/figures"
say() { echo "== [$(($(date +%s) - started)) s] $*"; }

# ---------------------------------------------------------------- offline
u1="--input $ml/u1.base --test $ml/u1.test"
u1_shown="--input $ml_shown/u1.base --test $ml_shown/u1.test"

say "overfitting: lambda and factors, explicit and implicit, on u1"
# run NAME ARGS...: one training, its JSON in $work/NAME.json
run() {
  local name=$1
  shift
  # shellcheck disable=SC2086
  "$rs" train $u1 --json --quiet "$@" > "$work/$name.json"
}
explicit_lambdas="0.003 0.01 0.03 0.1 0.3 1"
implicit_lambdas="0.3 1 3 10 20 30 100 300 1000"
factors_grid="2 4 8 16 32 64 128 256"
for l in $explicit_lambdas; do run "exp_l$l" --algo als-explicit --solver als --regularization "$l" --train-metrics; done
for f in $factors_grid; do run "exp_f$f" --algo als-explicit --solver als --factors "$f" --train-metrics; done
for l in $implicit_lambdas; do run "imp_l$l" --algo als-implicit --regularization "$l" --train-metrics; done
for f in $factors_grid; do run "imp_f$f" --algo als-implicit --factors "$f" --train-metrics; done
# The same factor sweeps with weak regularization: capacity overfits when
# lambda does not hold it back.
weak_explicit=0.01
weak_implicit=1
for f in $factors_grid; do
  run "exp_w$f" --algo als-explicit --solver als --factors "$f" --regularization $weak_explicit --train-metrics
  run "imp_w$f" --algo als-implicit --factors "$f" --regularization $weak_implicit --train-metrics
done
# points KIND PREFIX VALUES...: [{x, train, test, params}] from the runs
points() {
  local kind=$1 prefix=$2 files=()
  shift 2
  for v in "$@"; do files+=("$work/${prefix}$v.json"); done
  if [ "$kind" = explicit ]; then
    jq -s '[.[] | {regularization: .params.regularization, factors: .params.factors,
                   train: .history[-1].metrics.train_rmse, test: .rmse}]' "${files[@]}"
  else
    jq -s '[.[] | {regularization: .params.regularization, factors: .params.factors,
                   train: .history[-1].metrics["train_ndcg@10"], test: .["ndcg@10"]}]' "${files[@]}"
  fi
}
# shellcheck disable=SC2086
{
  points explicit exp_l $explicit_lambdas > "$work/o_exp_l.json"
  points explicit exp_f $factors_grid > "$work/o_exp_f.json"
  points implicit imp_l $implicit_lambdas > "$work/o_imp_l.json"
  points implicit imp_f $factors_grid > "$work/o_imp_f.json"
  points explicit exp_w $factors_grid > "$work/o_exp_w.json"
  points implicit imp_w $factors_grid > "$work/o_imp_w.json"
}
"$rs" train $u1 --json --quiet --algo als-explicit --solver als > "$work/exp_default.json"
"$rs" train $u1 --json --quiet --algo als-implicit > "$work/imp_default.json"
jq -n --arg u1 "$u1_shown" \
  --slurpfile el "$work/o_exp_l.json" --slurpfile ef "$work/o_exp_f.json" \
  --slurpfile il "$work/o_imp_l.json" --slurpfile ifa "$work/o_imp_f.json" \
  --slurpfile ew "$work/o_exp_w.json" --slurpfile iw "$work/o_imp_w.json" \
  --slurpfile ed "$work/exp_default.json" --slurpfile id "$work/imp_default.json" '
  def best(p; lower): (p | if lower then min_by(.test) else max_by(.test) end);
  {
    command: "recstack train \($u1) --algo als-explicit --solver als --regularization L --train-metrics --json (and --factors F, at the default lambda and at lambda 0.01; --algo als-implicit the same, weak lambda 1)",
    explicit: {
      metric: "rmse", by_regularization: $el[0], by_factors: $ef[0], by_factors_weak: $ew[0],
      default: {regularization: $ed[0].params.regularization, factors: $ed[0].params.factors, test: $ed[0].rmse},
      best_regularization: best($el[0]; true), best_factors: best($ef[0]; true)
    },
    implicit: {
      metric: "ndcg@10", by_regularization: $il[0], by_factors: $ifa[0], by_factors_weak: $iw[0],
      default: {regularization: $id[0].params.regularization, factors: $id[0].params.factors, test: $id[0]["ndcg@10"]},
      best_regularization: best($il[0]; false), best_factors: best($ifa[0]; false)
    },
    figures: ["figures/overfitting_explicit.svg", "figures/overfitting_implicit.svg"]
  }' > "$work/overfitting.json"

say "optimizers: sgd-explicit (sgd, momentum, adagrad, adam) vs ALS and Gibbs on u1"
for o in sgd momentum adagrad adam; do
  run "opt_$o" --algo sgd-explicit --optimizer "$o" --factors 64 --iterations 20
done
run opt_als --algo als-explicit --solver als --factors 64 --iterations 20
run opt_gibbs --algo als-explicit --solver gibbs --factors 64
jq -n --arg u1 "$u1_shown" \
  --slurpfile sgd "$work/opt_sgd.json" --slurpfile momentum "$work/opt_momentum.json" \
  --slurpfile adagrad "$work/opt_adagrad.json" --slurpfile adam "$work/opt_adam.json" \
  --slurpfile als "$work/opt_als.json" --slurpfile gibbs "$work/opt_gibbs.json" '
  def curve(r): [foreach r.history[] as $h (0; . + $h.seconds;
                   {epoch: $h.iteration, seconds: ., rmse: $h.metrics.rmse})];
  def first_at(c; t): ([c[] | select(.rmse <= t)] | first | .epoch) // null;
  def entry(r): curve(r) as $c
    | {params: r.params, final_rmse: r.rmse, seconds: r.fit_seconds, curve: $c,
       epoch_reaching_target: first_at($c; 0.92),
       seconds_per_epoch: (r.fit_seconds / (r.history | length))};
  {
    command: "recstack train \($u1) --algo sgd-explicit --optimizer O --factors 64 --iterations 20 --json (O = sgd, momentum, adagrad, adam); --algo als-explicit --solver als --factors 64 --iterations 20; --algo als-explicit --solver gibbs --factors 64",
    target_rmse: 0.92, target_source: "LIBMF on u1, k 64, 20 iterations (issue 14)",
    runs: {sgd: entry($sgd[0]), momentum: entry($momentum[0]), adagrad: entry($adagrad[0]),
           adam: entry($adam[0]), als: entry($als[0]), gibbs: entry($gibbs[0])},
    figures: ["figures/optimizers_epoch.svg", "figures/optimizers_seconds.svg"]
  }' > "$work/optimizers.json"

say "cold start: folded-in vs trained users by history length"
"$rs" coldstart --input "$ml/u.data" --json > "$work/coldstart_raw.json"
jq --arg in "$ml_shown/u.data" '{command: "recstack coldstart --input \($in) --json"} + . + {input: $in,
  figures: ["figures/cold_start.svg"]}' "$work/coldstart_raw.json" > "$work/cold_start.json"

# ---------------------------------------------------------------- the stack
export RECSTACK_STACK_DIR=$work/stack RECSTACK_PORT_OFFSET=${RECSTACK_PORT_OFFSET:-1100} RECSTACK_BIN=$bin
off=$RECSTACK_PORT_OFFSET
gw=127.0.0.1:$((50050 + off)); ing=127.0.0.1:$((50051 + off)); trn=127.0.0.1:$((50052 + off))
http=http://127.0.0.1:$((8080 + off))
redis_port=$((6379 + off))
stack=deploy/local/stack.sh
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    for s in training ranking retrieval gateway; do
      echo "--- $s.log (tail)" >&2
      tail -5 "$RECSTACK_STACK_DIR/logs/$s.log" >&2 2>/dev/null || true
    done
  fi
  if [ $keep = 1 ]; then
    echo "kept: RECSTACK_STACK_DIR=$RECSTACK_STACK_DIR RECSTACK_PORT_OFFSET=$off" >&2
    return
  fi
  $stack down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do
  redis-cli -p $redis_port ping >/dev/null 2>&1 || break
  sleep 0.2
done
if redis-cli -p $redis_port ping >/dev/null 2>&1; then
  echo "walkthrough.sh: port $redis_port is taken: set RECSTACK_PORT_OFFSET" >&2
  exit 2
fi
explore=0.1
say "stack on ports +$off (exploration $explore); a synthetic catalogue whose events end now"
RECSTACK_EXPLORE_RATE=$explore $stack up --split >/dev/null
data=$work/data
datagen="recstack datagen --users 5000 --items 2000 --interactions 150000 --seed 7"
$rs datagen --users 5000 --items 2000 --interactions 150000 --seed 7 \
  --end-time-ms "$(date +%s%3N)" --out "$data" >/dev/null
$rs ingest --addr "$ing" --items "$data/items.csv" "$data/interactions.csv" >/dev/null
$rs train --addr "$trn" --algo als-implicit --wait --quiet --json > "$work/stack_train.json"

rate=200
say "logging: 40 s at $rate Recommend/s with simulated clicks (position bias 1)"
"$lt" --addr "$gw" --rate $rate --duration 40s --warmup 0s --k 10 --seed 21 \
  --simulate-clicks "$data" --position-bias 1 --json > "$work/logging.json"
sleep 3

say "rankers: gbdt and logistic trained on the logs; logistic with and without standardization"
$rs ranker train --addr "$trn" --model gbdt --wait --json > "$work/ranker_gbdt.json"
$rs ranker train --addr "$trn" --model logistic --wait --json > "$work/ranker_logistic.json"
scaling_runs=()
for opt in sgd adam; do
  for std in yes no; do
    flag=; [ $std = no ] && flag=--no-standardize
    # shellcheck disable=SC2086
    $rs ranker train --addr "$trn" --model logistic --optimizer $opt $flag --epochs 20 --dry-run \
      --wait --json > "$work/scale_${opt}_$std.json"
    scaling_runs+=("$opt/$std")
  done
done
mask=popularity:0.4
for policy in impute drop; do
  $rs ranker train --addr "$trn" --model logistic --mask $mask --missing $policy --epochs 20 \
    --dry-run --wait --json > "$work/missing_$policy.json"
done
jq -n --arg mask $mask \
  --slurpfile sy "$work/scale_sgd_yes.json" --slurpfile sn "$work/scale_sgd_no.json" \
  --slurpfile ay "$work/scale_adam_yes.json" --slurpfile an "$work/scale_adam_no.json" \
  --slurpfile mi "$work/missing_impute.json" --slurpfile md "$work/missing_drop.json" \
  --slurpfile full "$work/ranker_logistic.json" '
  def run(r): {rows: r.rows, auc: r.auc, logloss: r.logloss,
               curve: [r.history[] | {epoch, train_logloss, valid_logloss}]};
  {
    command: "recstack ranker train --model logistic --optimizer O [--no-standardize] --epochs 20 --dry-run --wait --json (O = sgd, adam); --mask \($mask) --missing impute|drop",
    standardization: {sgd: {standardized: run($sy[0]), raw: run($sn[0])},
                      adam: {standardized: run($ay[0]), raw: run($an[0])}},
    missing: {mask: $mask, unmasked: run($full[0]), impute: run($mi[0]), drop: run($md[0])},
    figures: ["figures/feature_scaling.svg", "figures/missing_values.svg"]
  }' > "$work/feature_scaling.json"

say "explainability: one user's gbdt recommendation with TreeSHAP contributions"
user=$(awk -F, 'NR == 2 {print $1}' "$data/interactions.csv")
curl -fsS "$http/v1/users/$user/recommendations?k=10&debug=true&ranker=gbdt" > "$work/explain_one.json"
# Global importance: mean |contribution| per feature over the items served
# to 40 users.
: > "$work/explain_many.jsonl"
for u in $(awk -F, 'NR > 1 {print $1}' "$data/interactions.csv" | sort -u | head -40); do
  curl -fsS "$http/v1/users/$u/recommendations?k=10&debug=true&ranker=gbdt" >> "$work/explain_many.jsonl"
  echo >> "$work/explain_many.jsonl"
done
jq -n --arg user "$user" --arg http "$http" --slurpfile one "$work/explain_one.json" \
  --slurpfile many "$work/explain_many.jsonl" '
  def items(r): (r.items // []);
  # protobuf JSON leaves out zeros; the bias is not a feature
  def contributions: [(.explanation.contributions // [])[] | select(.feature != "bias")
                      | {feature, value: (.value // 0), contribution: (.contribution // 0)}];
  def bias: ([(.explanation.contributions // [])[] | select(.feature == "bias") | .contribution // 0] | first);
  {
    command: "curl \"http://127.0.0.1:8080/v1/users/\($user)/recommendations?k=10&debug=true&ranker=gbdt\" (the same for 40 users: mean |contribution|)",
    user: $user,
    ranker: $one[0].ranker,
    degraded: ($one[0].degraded // false),
    recommendation: [items($one[0])[] | {item_id, score, source, bias: bias, contributions: contributions}],
    global_importance: ([ $many[] | items(.)[] | contributions[] ]
      | group_by(.feature)
      | map({feature: .[0].feature, mean_abs_contribution: (map(.contribution | fabs) | add / length)})
      | sort_by(-.mean_abs_contribution)),
    users_scored: ($many | length),
    figures: ["figures/explainability.svg"]
  }' > "$work/explainability.json"

# kill_one NAME: stop one process of the stack and wait until it is gone.
kill_one() {
  local pid
  pid=$(cat "$RECSTACK_STACK_DIR/pids/$1.pid")
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}
# experiment NAME SEED CONTROL_RANKER TREATMENT_RANKER: ranking and training
# restarted with a 50/50 experiment, 30 s of traffic, the readout.
experiment() {
  local name=$1 seed=$2 a=$3 b=$4
  echo "{\"experiments\": [{\"name\": \"$name\", \"salt\": \"$name\", \"variants\": [
    {\"name\": \"control\", \"ranker\": \"$a\", \"traffic\": 0.5},
    {\"name\": \"treatment\", \"ranker\": \"$b\", \"traffic\": 0.5}]}]}" > "$work/$name.json"
  kill_one ranking
  kill_one training
  RECSTACK_EXPERIMENTS=$work/$name.json RECSTACK_EXPLORE_RATE=$explore $stack up --split >/dev/null
  "$lt" --addr "$gw" --rate $rate --duration 30s --warmup 0s --k 10 --seed "$seed" \
    --simulate-clicks "$data" --position-bias 1 --json > "$work/load_$name.json"
  sleep 3
  $rs experiment report --addr "$trn" --experiment "$name" --json > "$work/report_$name.json"
}
say "A/A test: linear vs linear, 30 s"
experiment aa 31 linear linear
say "A/B test: linear vs gbdt, 30 s"
experiment ab 32 linear gbdt
base=$(jq '.variants[] | select(.name == "control") | .ctr' "$work/report_ab.json")
var=$(jq '.variants[] | select(.name == "control") | .user_variance' "$work/report_ab.json")
$rs experiment sample-size --baseline "$base" --user-variance "$var" --lift 0.02 --json \
  > "$work/sample_size.json"
jq -n --slurpfile aa "$work/report_aa.json" --slurpfile ab "$work/report_ab.json" \
  --slurpfile n "$work/sample_size.json" --slurpfile la "$work/load_aa.json" '
  {
    command: "an experiments file with control/treatment at 50/50 (linear/linear, then linear/gbdt), recstack-loadtest --rate 200 --duration 30s --simulate-clicks DATA --position-bias 1, then recstack experiment report --experiment aa|ab --json; recstack experiment sample-size --baseline CTR --user-variance V --lift 0.02 --json",
    aa: $aa[0], ab: $ab[0],
    sample_size: $n[0],
    users_per_second: ($la[0].config.rate // null),
    figures: ["figures/ab_test.svg"]
  }' > "$work/ab_test.json"

say "capacity: a sweep with the floor, the per-stage budget at idle (ranking back to linear)"
kill_one ranking
RECSTACK_EXPLORE_RATE=$explore $stack up --split >/dev/null
for _ in $(seq 30); do
  curl -fsS "$http/v1/users/$user/recommendations?k=10&debug=true" >> "$work/budget.jsonl"
  echo >> "$work/budget.jsonl"
done
metrics=gateway=127.0.0.1:$((9100 + off)),ingestion=127.0.0.1:$((9101 + off)),retrieval=127.0.0.1:$((9103 + off)),ranking=127.0.0.1:$((9104 + off))
sweep=100:800:100
"$lt" --addr "$gw" --dataset "$data" --sweep $sweep --duration 4s --warmup 1s --slo 50ms --floor \
  --redis-url "redis://127.0.0.1:$redis_port" --metrics "$metrics" --json > "$work/sweep.json"
curl -fsS "$http/v1/models" > "$work/models.json"
redis_mem=$(redis-cli -p $redis_port info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
jq -n --arg sweep $sweep --slurpfile s "$work/sweep.json" --slurpfile b "$work/budget.jsonl" \
  --slurpfile t "$work/models.json" --arg redis_mem "$redis_mem" '
  # protobuf JSON writes int64 as strings
  def num: if type == "string" then tonumber else . end;
  def median: map(num) | sort | if length == 0 then null else .[(length / 2 | floor)] end;
  def stage(name): [$b[] | .stages[]? | select(.stage == name) | .duration_us] | median;
  def source(name): [$b[] | .stages[]? | .sources[]? | select(.source == name) | .latency_us] | median;
  ($s[0]) as $sw
  | ([$t[0].models[] | select(.slot == "factors" and .serving) | .factors] | first) as $d
  | {users: 100000000, items: 10000000, peak_rps: 20000, factors: $d} as $goal
  | ($sw.cpu_us_per_request // {}) as $cpu
  | {
    command: "recstack-loadtest --dataset DATA --sweep \($sweep) --duration 4s --warmup 1s --slo 50ms --floor --redis-url ... --metrics ... --json; curl \"http://127.0.0.1:8080/v1/users/USER/recommendations?k=10&debug=true\" (30 times, idle)",
    knee_rate: $sw.knee_rate, floor_knee_rate: $sw.floor_knee_rate, knee_over_floor: $sw.knee_over_floor,
    sweep: [$sw.sweep[] | {rate, achieved_rate, p50_us, p99_us, ok, degraded, errors}],
    floor_sweep: [($sw.floor_sweep // [])[] | {rate, achieved_rate, p99_us}],
    budget_us: {total: ([$b[] | .total_us] | median), retrieval: stage("retrieval"), ranking: stage("ranking"),
                sources: {mf: source("mf"), item2item: source("item2item"), trending: source("trending")}},
    cpu_us_per_request: $cpu, cpu_us_per_request_total: $sw.cpu_us_per_request_total,
    redis_commands_per_request: $sw.redis_commands_per_request,
    plan: {
      goal: $goal,
      inputs: {
        factors: {value: $d, from: "the served factor model (GET /v1/models)"},
        bytes_per_float: {value: 4, from: "float32 factors (DESIGN keyspace)"},
        cpu_us_per_request: {value: $cpu, from: "recstack-loadtest --metrics at half the knee (this run)"},
        knee_rps_per_2_cores: {value: $sw.knee_rate, from: "recstack-loadtest --sweep (this run), the whole stack on 2 cores"},
        redis_shard_gb: {value: 20, from: "assumption: a shard small enough to fork, snapshot and fail over quickly"},
        core_utilization: {value: 0.6, from: "assumption: headroom for a replica failure and spikes"},
        cores_per_pod: {value: 2, from: "assumption: the machine class measured here"}
      },
      user_factor_gb: ($goal.users * $d * 4 / 1e9),
      item_factor_gb: ($goal.items * $d * 4 / 1e9),
      redis_shards: ((($goal.users + $goal.items) * $d * 4 / 1e9 / 20) | ceil),
      pods: ($cpu | with_entries(.value = (($goal.peak_rps * .value / 1e6) / (2 * 0.6) | ceil))),
      stacks_at_measured_knee: (if ($sw.knee_rate // 0) > 0 then ($goal.peak_rps / $sw.knee_rate | ceil) else null end)
    },
    redis_used_memory_bytes: ($redis_mem | tonumber),
    figures: ["figures/capacity.svg", "figures/latency_budget.svg"]
  }' > "$work/capacity.json"

say "failure modes: ranking, retrieval, then Redis down"
# down NAME: kill a stack process; then one debug Recommend through HTTP.
probe() {
  curl -sS -o "$work/fail_$1.json" -w '%{http_code} %{time_total}\n' \
    "$http/v1/users/$user/recommendations?k=10&debug=true" > "$work/fail_$1.status" || true
}
probe healthy
kill_one ranking
probe ranking
RECSTACK_EXPLORE_RATE=$explore $stack up --split >/dev/null
kill_one retrieval
probe retrieval
RECSTACK_EXPLORE_RATE=$explore $stack up --split >/dev/null
redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1 || true
sleep 1
probe redis
jq -n --rawfile sh "$work/fail_healthy.status" --rawfile sr "$work/fail_ranking.status" \
  --rawfile st "$work/fail_retrieval.status" --rawfile sd "$work/fail_redis.status" \
  --slurpfile h "$work/fail_healthy.json" --slurpfile r "$work/fail_ranking.json" \
  --slurpfile t "$work/fail_retrieval.json" --slurpfile d "$work/fail_redis.json" '
  def row(down; status; j): (status | split(" ")) as $s
    | {down: down, http_status: ($s[0] | tonumber), seconds: ($s[1] | tonumber),
       items: ((j.items // []) | length), degraded: (j.degraded // false),
       degraded_reason: (j.degraded_reason // ""), sources: ([(j.items // [])[].source] | unique),
       error: (j.error.message // null)};
  {
    command: "kill the process (redis: redis-cli shutdown), then curl \"http://127.0.0.1:8080/v1/users/USER/recommendations?k=10&debug=true\"",
    cases: [row("nothing"; $sh; $h[0]), row("ranking"; $sr; $r[0]), row("retrieval"; $st; $t[0]),
            row("redis"; $sd; $d[0])]
  }' > "$work/failure_modes.json"

# ---------------------------------------------------------------- figures
say "figures.json and the plots"
jq -n --arg datagen "$datagen" \
  --slurpfile overfitting "$work/overfitting.json" --slurpfile optimizers "$work/optimizers.json" \
  --slurpfile scaling "$work/feature_scaling.json" --slurpfile cold "$work/cold_start.json" \
  --slurpfile explain "$work/explainability.json" --slurpfile ab "$work/ab_test.json" \
  --slurpfile capacity "$work/capacity.json" --slurpfile failures "$work/failure_modes.json" \
  --arg seconds "$(($(date +%s) - started))" '
  {
    command: "scripts/walkthrough.sh",
    stack_data: $datagen,
    seconds: ($seconds | tonumber),
    overfitting: $overfitting[0], optimizers: $optimizers[0], feature_scaling: $scaling[0],
    cold_start: $cold[0], explainability: $explain[0], ab_test: $ab[0], capacity: $capacity[0],
    failure_modes: $failures[0]
  }' > "$out/figures.json"
scripts/walkthrough_plots.sh "$out/figures.json" "$out/figures"
if [ "$out" = docs/walkthrough ]; then scripts/bench_tables.sh >/dev/null; fi
say "wrote $out/figures.json and $(find "$out/figures" -name '*.svg' | wc -l) plots"
