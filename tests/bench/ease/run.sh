#!/usr/bin/env bash
# Regenerates the EASE figures in docs/training.md and docs/retrieval.md:
#   docs/bench/ease_ml100k.json   NDCG@10 and fit time (seeds 42-44), Gram paths, truncation recall
#   docs/bench/ease_synth5m.json  the 20,000-item fit: time and peak memory
#   docs/bench/ease_blend.json    ease + als-implicit blended by weight (seeds 42-44)
# Usage: tests/bench/ease/run.sh [BUILD_DIR] [DATA_DIR]   (from the repository root)
set -euo pipefail
build=${1:-build}
data=${2:-../shared/data}
mkdir -p docs/bench
"$build/bin/recstack-bench-ease" --dataset ml100k --data-dir "$data" > docs/bench/ease_ml100k.json
"$build/bin/recstack-bench-ease" --dataset synth5m --data-dir "$data" > docs/bench/ease_synth5m.json
"$build/bin/recstack-bench-ease" --dataset blend --data-dir "$data" > docs/bench/ease_blend.json
