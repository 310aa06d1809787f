# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: a Recommend with one part of the stack down (the
# reason without its gRPC detail, which figures.json keeps).
include "lib";
[["down", "HTTP", "items", "degraded", "reason", "sources in the answer", "seconds"]]
+ [.failure_modes.cases[]
   | [.down, (.http_status | tostring), (.items | tostring), (.degraded | tostring),
      (if .degraded_reason == "" then (.error // "-") else (.degraded_reason | sub(" \\(.*\\)"; "")) end),
      (.sources | join(", ")), (.seconds | fixed(3))]]
| table
