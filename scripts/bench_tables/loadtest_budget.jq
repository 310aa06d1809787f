# input: loadtest_budget.json
# scripts/capacity.sh's budget run: CPU microseconds per request per service
# (the services' process_cpu_seconds_total), Redis commands per request
# (INFO commandstats before and after), and how the requests were answered.
include "lib";
. as $r
| ([["", "CPU us per request"]]
   + [("gateway", "retrieval", "ranking", "ingestion") as $s | [$s, ($r.cpu_us_per_request[$s] | fixed(1))]]
   + [["all four", ($r.cpu_us_per_request_total // ($r.cpu_us_per_request | add) | fixed(1))]]
   | table),
  "",
  ([["Redis command", "per request"]]
   + [$r.redis_commands | to_entries | sort_by(-.value)[] | ["`\(.key | gsub("\\|"; "\\|"))`", (.value | fixed(3))]]
   + [["all", ($r.redis_commands_per_request | fixed(3))],
      ["catalogue-sized (`ZUNION`, `ZUNIONSTORE`, `ZRANGE`, `KEYS`, `SCAN`) per second",
       ($r.redis_catalogue_sized_per_second | fixed(1))]]
   | table),
  "",
  "At \($r.rate) Recommend/s for \($r.seconds) s: \($r.ok) of \($r.count) answered OK, \($r.errors) errors, "
  + "\($r.degraded) degraded\($r.degraded_by_reason | to_entries | map("\(.key) \(.value)") | join(", ")
                               | if . == "" then "" else " (\(.))" end); "
  + "p50 \($r.p50_us / 1000 | sig) ms, p99 \($r.p99_us / 1000 | sig) ms; the floor's p99 in the same run "
  + "\($r.floor.p99_us / 1000 | sig) ms."
