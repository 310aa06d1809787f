# input: ease_blend.json
# recstack-bench-ease --dataset blend: ease and als-implicit alone and their
# best blend w * z(ease) + (1 - w) * z(als), per seed and the mean.
include "lib";
(.runs | length) as $k
| [["seed", "ease NDCG@10", "als-implicit NDCG@10", "best w", "best blend NDCG@10",
    "beats both"]]
  + (.runs | map([(.seed | tostring), (.["ease_ndcg@10"] | fixed(4)),
                  (.["als_implicit_ndcg@10"] | fixed(4)), (.best_ease_weight | fixed(1)),
                  (.["best_ndcg@10"] | fixed(4)), (if .blend_beats_both then "yes" else "no" end)]))
  + [["mean", (.runs | map(.["ease_ndcg@10"]) | add / $k | fixed(4)),
      (.runs | map(.["als_implicit_ndcg@10"]) | add / $k | fixed(4)), "",
      (.runs | map(.["best_ndcg@10"]) | add / $k | fixed(4)), ""]]
| table
