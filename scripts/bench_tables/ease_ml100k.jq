# input: ease_ml100k.json
# recstack-bench-ease --dataset ml100k: the full EASE model per seed (lambda
# 300, stratified 75/25) and the mean; fit wall time and the Gram path.
include "lib";
[["seed", "NDCG@10", "recall@10", "fit seconds", "Gram"]]
+ (.seeds | map([(.seed | tostring), (.["ndcg@10"] | fixed(4)), (.["recall@10"] | fixed(4)),
                 (.fit_seconds | sig), "\(.gram_method) \(.gram_seconds | sig) s"]))
+ [["mean", "**\(.["mean_ndcg@10"] | fixed(4))**", "", (.mean_fit_seconds | sig), ""]]
| table
