# input: train_convergence_ml100k.json
# When each solver first comes within 0.002 of CG's final NDCG@10.
include "lib";
convergence_summary
