# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: `recstack coldstart` on MovieLens 100K.
include "lib";
.cold_start as $c
| ("ndcg@\($c.k)") as $n | ("recall@\($c.k)") as $r
| [["events in the history", "list from", "NDCG@\($c.k) folded in", "NDCG@\($c.k) trained",
    "folded in / trained", "recall@\($c.k) folded in"]]
+ [$c.rows[]
   | [(.events | tostring), .source, (.folded_in[$n] | fixed(4)), (.trained[$n] | fixed(4)),
      (if .trained[$n] > 0 then .folded_in[$n] / .trained[$n] | fixed(2) else "n/a" end),
      (.folded_in[$r] | fixed(4))]]
| table
