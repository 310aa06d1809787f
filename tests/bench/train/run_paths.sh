#!/usr/bin/env bash
# Runs recstack-bench-train on every SIMD path this machine has and writes
# docs/bench/train_<path>[_<solver>].json (the figures docs/training.md quotes).
# The AVX2 path on an AVX-512 machine is forced with RECSTACK_SIMD=avx2: it
# is the path AMD EPYC (Zen 2/3) takes.
#   tests/bench/train/run_paths.sh [build dir] [extra bench flags...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$root/build}
shift || true
bench=$build/bin/recstack-bench-train
out=$root/docs/bench
mkdir -p "$out"
# OpenBLAS 0.3.21 takes its SSE3 "Prescott" kernels on CPUs newer than it
# knows, which makes the sgemm floor several times too slow: name the core
# from the CPU's flags unless the caller did (the JSON says which ran,
# blas_core).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
for path in avx512 avx2 default; do
  for solver in cg ials++; do
    suffix=$([ "$solver" = cg ] && echo "" || echo "_ialspp")
    json=$(RECSTACK_SIMD=$path "$bench" --json --solver "$solver" "$@")
    # Skip a path the CPU does not have (the override only lowers).
    got=$(jq -r .kernel <<<"$json")
    if [ "$got" != "$path" ]; then
      echo "skip $path: the CPU runs $got" >&2
      continue 2
    fi
    jq . <<<"$json" >"$out/train_${path}${suffix}.json"
    echo "$path $solver: $(jq -c '{kernel, seconds_per_iteration, iteration_over_sgemm, "ndcg@10"}' <<<"$json")" >&2
  done
done
