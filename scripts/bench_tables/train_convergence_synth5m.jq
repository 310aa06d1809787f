# input: train_convergence_synth5m.json
# NDCG@10 after each iteration against the fit time so far, CG next to
# iALS++ (tests/bench/train/run_convergence.sh).
include "lib";
convergence_table
