#!/usr/bin/env bash
# Every BLAS-using binary runs OpenBLAS's kernels for this CPU's features,
# however it was started: without OPENBLAS_CORETYPE in the environment,
# `recstack train --json` reports a core with vectors as wide as the CPU's
# (Debian's OpenBLAS 0.3.21 alone picks SSE3 "Prescott" on CPUs its model
# table does not know). With the variable set, the user's choice stands.
set -euo pipefail
rs=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/blas_core_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$rs" datagen --users 50 --items 40 --interactions 600 --seed 5 --out "$tmp/data" >/dev/null
train() { "$rs" train --input "$tmp/data/interactions.csv" --factors 4 --iterations 1 --json "$@" | jq -r .blas_core; }
core=$(env -u OPENBLAS_CORETYPE bash -c "$(declare -f train); rs='$rs'; tmp='$tmp'; train")
echo "blas_core: $core"
if grep -qw avx512f /proc/cpuinfo; then
  [[ $core =~ ^(SkylakeX|Cooperlake|SapphireRapids)$ ]] || { echo "AVX-512 CPU, core $core" >&2; exit 1; }
elif grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  [[ $core =~ ^(Haswell|Zen|Excavator|SkylakeX|Cooperlake|SapphireRapids)$ ]] \
    || { echo "AVX2 CPU, core $core" >&2; exit 1; }
fi
# The user's choice is kept.
forced=$(OPENBLAS_CORETYPE=Prescott bash -c "$(declare -f train); rs='$rs'; tmp='$tmp'; train")
[ "$forced" = Prescott ] || { echo "OPENBLAS_CORETYPE=Prescott gave $forced" >&2; exit 1; }
