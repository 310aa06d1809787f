# input: ease_blend.json
# recstack-bench-ease --dataset blend: NDCG@10 and recall@10 of the blend
# by ease weight w (1 = ease alone, 0 = als-implicit alone), mean over the
# seeds.
include "lib";
(.runs | length) as $k
| [["ease weight w", "NDCG@10", "recall@10"]]
  + ([.runs[].blend[]] | group_by(.ease_weight)
     | map([(.[0].ease_weight | fixed(1)), (map(.["ndcg@10"]) | add / $k | fixed(4)),
            (map(.["recall@10"]) | add / $k | fixed(4))]))
| table
