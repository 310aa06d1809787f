#!/usr/bin/env bash
# NDCG@10 against fit time, iteration by iteration, for CG and iALS++ on
# synth5m (the benchmark's settings) and MovieLens 100K (recstack's tuned
# als-implicit defaults: regularization 20, c = 1 + 0.3 r): writes
# docs/bench/train_convergence_<data>.json, one recstack-bench-train run per
# solver with --eval-every 1 (evaluation is not counted in fit_seconds).
#   tests/bench/train/run_convergence.sh [build dir] [extra bench flags...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$root/build}
shift || true
bench=$build/bin/recstack-bench-train
data=${RECSTACK_DATA_DIR:-$root/../shared/data}
out=$root/docs/bench
mkdir -p "$out"
# The same OpenBLAS core correction as run_paths.sh.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
run() {  # name, bench flags...
  local name=$1
  shift
  local runs=()
  for solver in cg ials++; do
    runs+=("$("$bench" --json --eval-every 1 --solver "$solver" "$@")")
    echo "$name $solver: $(jq -c '{kernel, seconds_per_iteration, "ndcg@10"}' <<<"${runs[-1]}")" >&2
  done
  printf '%s\n' "${runs[@]}" | jq -s --arg data "$name" '{data: $data, runs: .}' \
    >"$out/train_convergence_$name.json"
}
run synth5m --input "$data/synth5m/interactions.csv" "$@"
run ml100k --input "$data/ml-100k/u.data" --format movielens --regularization 20 \
  --confidence one-plus-alpha --alpha 0.3 "$@"
