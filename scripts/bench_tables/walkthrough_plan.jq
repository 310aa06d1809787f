# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: the capacity plan for 100M users, 10M items and
# 20k Recommend/s at peak, and every input with where it comes from.
include "lib";
.capacity.plan as $p
| ([["input", "value", "from"]]
   + [$p.inputs | to_entries[]
      | [.key, (.value.value | if type == "object" then (to_entries | map("\(.key) \(.value | sig)") | join(", ")) else tostring end),
         .value.from]]
   | table),
  "",
  ([["output", "value"],
    ["user factors (100M x factors x 4 B)", "\($p.user_factor_gb | sig) GB"],
    ["item factors (10M x factors x 4 B)", "\($p.item_factor_gb | sig) GB"],
    ["Redis shards for the factors", ($p.redis_shards | tostring)],
    ["pods at peak (gateway / retrieval / ranking / ingestion)",
     ([$p.pods | (.gateway, .retrieval, .ranking, .ingestion) | tostring] | join(" / "))],
    ["2-core stacks at the measured knee", ($p.stacks_at_measured_knee | tostring)]]
   | table)
