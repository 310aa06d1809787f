# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: the knee against the floor, and what a request
# costs at half the knee.
include "lib";
.capacity as $c
| [["knee (Recommend/s, p99 <= 50 ms)", "floor knee (bare gRPC)", "knee / floor",
    "CPU us per request (gateway / retrieval / ranking / ingestion)", "Redis commands per request"],
   [($c.knee_rate | tostring), ($c.floor_knee_rate | tostring), ($c.knee_over_floor | sig),
    ([$c.cpu_us_per_request | (.gateway, .retrieval, .ranking, .ingestion) | sig] | join(" / ")),
    ($c.redis_commands_per_request | sig)]]
| table
