# input: scale.json
# scripts/scale.sh: what one Redis and a 3-master cluster measured on this
# machine, and the bytes per user, item and event the plan multiplies.
include "lib";
. as $r
| ([["measured (\($r.date), \($r.cpu), \($r.cores) cores shared by everything)", "one Redis", "3-master cluster", "cluster / one"]]
   + [["ingest events/s (recstack-bench-ingest, through the service)",
       ($r.ingest.single_events_per_second | fixed(0)), ($r.ingest.cluster_events_per_second | fixed(0)),
       ($r.ingest.cluster_over_single | fixed(2))],
      ["ingest events/s per master", ($r.ingest.single_events_per_second | fixed(0)),
       ($r.ingest.cluster_events_per_second_per_master | fixed(0)), ""],
      ["ingest events/s, the cluster without replicas (the client's own cost)",
       ($r.ingest.single_events_per_second | fixed(0)),
       ($r.ingest.cluster_without_replicas_events_per_second | fixed(0)),
       ($r.ingest.cluster_without_replicas_over_single | fixed(2))],
      ["stack: CPU of every process (services and Redis nodes) per Recommend at 150/s, us",
       ($r.stack.cpu.single.us_per_request | fixed(0)), ($r.stack.cpu.cluster.us_per_request | fixed(0)), ""],
      ["  of which Redis, us", ($r.stack.cpu.single.redis_us_per_request | fixed(0)),
       ($r.stack.cpu.cluster.redis_us_per_request | fixed(0)), ""],
      ["  fixed cost with no load (cores)", ($r.stack.cpu.single.idle_cores | fixed(3)),
       ($r.stack.cpu.cluster.idle_cores | fixed(3)), ""],
      ["  marginal cost per Recommend (total less the fixed cost), us",
       ($r.stack.cpu.single.marginal_us_per_request | fixed(0)),
       ($r.stack.cpu.cluster.marginal_us_per_request | fixed(0)), ""],
      ["stack: Recommend capacity on these cores ((cores - fixed) / marginal, per s)",
       ($r.stack.cpu.single.capacity_per_second | fixed(0)),
       ($r.stack.cpu.cluster.capacity_per_second | fixed(0)),
       ($r.stack.cluster_over_single | fixed(2))],
      ["stack: highest fixed rate with no error and >= 95% full answers (Recommend/s)",
       ($r.stack.single.knee | fixed(0)), ($r.stack.cluster.knee | fixed(0)),
       ($r.stack.knee_cluster_over_single | fixed(2))]]
   + [$r.stack.single.steps as $s | $r.stack.cluster.steps as $c | range(0; $s | length) as $i
      | ["  at \($s[$i].rate)/s: full answers, p99 ms",
         "\($s[$i].ok_not_degraded * 100 / $s[$i].count | fixed(1))%, \($s[$i].p99_us / 1000 | sig)",
         "\($c[$i].ok_not_degraded * 100 / $c[$i].count | fixed(1))%, \($c[$i].p99_us / 1000 | sig)", ""]]
   | table),
  "",
  ([["keys per master after the stack's ingest and training", "keys", "share"]]
   + ($r.keys_per_master | (map(.keys) | add) as $t
      | map(["port \(.port)", (.keys | tostring), "\(.keys * 100 / $t | fixed(1))%"]))
   | table),
  "",
  ([["Redis bytes (MEMORY USAGE of the keys themselves)", "bytes"]]
   + [["per user: factors (\($r.bytes.model.factors) float32)", ($r.bytes.per_user_factors | fixed(0))],
      ["per user: history (capped zset)", ($r.bytes.per_user_history | fixed(0))],
      ["per item: factors (its share of the chunks)", ($r.bytes.per_item_factors | fixed(0))],
      ["per item: metadata hash", ($r.bytes.per_item_metadata | fixed(0))],
      ["per event: stream entry", ($r.bytes.per_event_stream_entry | fixed(0))],
      ["per event: dedupe marker (lives --dedup-ttl-seconds)", ($r.bytes.per_event_dedupe_marker | fixed(0))]]
   | table)
