#!/usr/bin/env bash
# The explicit solvers' row Cholesky: recstack-bench-cholesky (one matrix at
# a time vs LAPACK dpotrf vs CholeskyLowerBatch, on the AVX-512 and AVX2
# paths) and end-to-end `recstack train --algo als-explicit` fits (Gibbs, the
# default, and --solver als) on MovieLens 100K u1 and synth5m, the median
# fit_seconds of --reps runs each. Writes docs/bench/explicit_cholesky.json,
# or $OUT (to keep a run of another build for comparison).
#   tests/bench/train/run_explicit.sh [build dir]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$root/build}
data=${RECSTACK_DATA_DIR:-$root/../shared/data}
out=${OUT:-$root/docs/bench/explicit_cholesky.json}
reps=${REPS:-3}
recstack=${RECSTACK_BIN:-$build/bin/recstack}
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
micro=()
for path in avx512 avx2; do
  micro+=("$(RECSTACK_SIMD=$path "$build/bin/recstack-bench-cholesky" --count 16 --reps 51)")
done
fits=()
fit() {  # name, recstack train flags...
  local name=$1 runs=()
  shift
  for _ in $(seq "$reps"); do
    # CPU seconds of the whole process too: the machine is shared, wall time
    # moves with the other load.
    local json cpu
    json=$(/usr/bin/time -f '%U %S' -o /tmp/explicit_time.$$ \
      "$recstack" train --algo als-explicit --json "$@" 2>/dev/null)
    cpu=$(awk '{print $1 + $2}' /tmp/explicit_time.$$)
    runs+=("$(jq -c --argjson cpu "$cpu" '. + {cpu_seconds: $cpu}' <<<"$json")")
  done
  rm -f /tmp/explicit_time.$$
  fits+=("$(printf '%s\n' "${runs[@]}" | jq -s --arg name "$name" '
    def median(f): map(f) | sort | .[length / 2 | floor];
    .[0] + {name: $name, fit_seconds: median(.fit_seconds), cpu_seconds: median(.cpu_seconds),
            fit_seconds_runs: map(.fit_seconds), cpu_seconds_runs: map(.cpu_seconds),
            load_average: ($load | tonumber)}' --arg load "$(cut -d' ' -f1 /proc/loadavg)")")
  echo "$name: $(jq -c '{fit_seconds, cpu_seconds, rmse}' <<<"${fits[-1]}")" >&2
}
u1=(--input "$data/ml-100k/u1.base" --test "$data/ml-100k/u1.test" --format movielens)
fit ml100k_u1_gibbs "${u1[@]}"
fit ml100k_u1_als "${u1[@]}" --solver als
s5=(--input "$data/synth5m/interactions.csv" --format csv --split stratified:0.8 --seed 42)
fit synth5m_gibbs_4 "${s5[@]}" --iterations 4
fit synth5m_als_3 "${s5[@]}" --solver als --iterations 3
printf '%s\n' "${micro[@]}" | jq -s '.' >/tmp/explicit_micro.$$
printf '%s\n' "${fits[@]}" | jq -s --slurpfile micro /tmp/explicit_micro.$$ \
  '{cholesky: $micro[0], fits: .}' >"$out"
rm -f /tmp/explicit_micro.$$
