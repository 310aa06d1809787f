# input: train_avx2.json
# recstack-bench-train on one kernel path (tests/bench/train/run_paths.sh).
include "lib";
train_table
