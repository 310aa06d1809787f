#!/usr/bin/env bash
# The main demo: installs what is missing, builds, generates a synthetic data
# set with a planted latent model and prints its summary.
#
#   ./scripts/demo.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

out=.stack/data/synth
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

./scripts/deps.sh
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build -j "$(nproc)" --target recstack

echo "== A synthetic data set (2,000 users, 1,000 items, planted rank-16 model)"
build/bin/recstack datagen --users 2000 --items 1000 --interactions 50000 --seed 7 --out "$out"
