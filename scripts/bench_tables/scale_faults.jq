# input: scale.json
# scripts/scale.sh's fault runs on a real 3-master, 3-replica cluster.
include "lib";
.faults as $f
| ($f.ingest_master_killed) as $i
| ($f.recommend_master_killed) as $r
| [["fault", "what happened"],
   ["a master `kill -9`ed during an ingest of \($i.events) events (batches of 500, idempotency keys, client retries; node timeout 1 s)",
    "every acknowledged event logged exactly once (\($i.events) entries, \($i.events) distinct ids); \($i.events_per_second) events/s overall; \($i.failed_attempts) batch attempts failed and were retried; the longest wait for an acknowledgement \($i.longest_wait_s) s"],
   ["a master `kill -9`ed under \($r.rate) Recommend/s for \($r.seconds) s (stack.sh --redis-cluster 3, node timeout 2 s)",
    "\($r.ok) of \($r.scheduled) answered OK (\($r.degraded) degraded: \($r.degraded_by_reason | to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "none" else . end)), \($r.errors) errors\(if $r.errors > 0 then " (\($r.errors_by_code | to_entries | map("\(.key) \(.value)") | join(", ")))" else "" end); p99 \($r.p99_us / 1000 | sig) ms, max \($r.max_us / 1000 | sig) ms; a replica was master \($r.replica_promoted_after_ms / 1000 | sig) s after the kill"]]
| table
