# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: one Recommend's median time per stage on the idle
# stack (30 requests).
include "lib";
.capacity.budget_us as $b
| [["stage", "median ms"]]
+ ([["whole Recommend (gateway)", $b.total], ["retrieval", $b.retrieval],
    ["source mf (inside retrieval)", $b.sources.mf],
    ["source item2item (inside retrieval)", $b.sources.item2item],
    ["source trending (inside retrieval)", $b.sources.trending], ["ranking", $b.ranking]]
   | map([.[0], (if .[1] == null then "n/a" else .[1] / 1000 | sig end)]))
| table
