#!/usr/bin/env bash
# Regenerates the EASE figures in docs/training.md and docs/retrieval.md:
#   docs/bench/ease_ml100k.json   NDCG@10 and fit time (seeds 42-44), Gram paths, and each
#                                 truncation's recall against the full x_u B and served NDCG@10
#   docs/bench/ease_synth5m.json  the 20,000-item fit: time (wall and CPU) and peak memory
#   docs/bench/ease_blend.json    ease + als-implicit blended by weight (seeds 42-44)
# One thread (--threads, THREADS to change it): the machine these run on is
# shared, and OpenBLAS's threads wait for each other when one is descheduled.
# Then scripts/bench_tables.sh rewrites the tables.
# Usage: tests/bench/ease/run.sh [BUILD_DIR] [DATA_DIR]   (from the repository root)
set -euo pipefail
build=${1:-build}
data=${2:-../shared/data}
threads=${THREADS:-1}
mkdir -p docs/bench
for dataset in ml100k synth5m blend; do
  "$build/bin/recstack-bench-ease" --dataset $dataset --data-dir "$data" --threads "$threads" \
    > docs/bench/ease_$dataset.json.tmp
  mv docs/bench/ease_$dataset.json.tmp docs/bench/ease_$dataset.json
done
scripts/bench_tables.sh
