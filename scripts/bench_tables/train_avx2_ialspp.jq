# input: train_avx2_ialspp.json
# recstack-bench-train on one kernel path (tests/bench/train/run_paths.sh).
include "lib";
train_table
