# input: reliability.json
# scripts/drill.sh: each fault drill under load, its errors, degraded
# answers, exactly-once accounting of the events and whether it met every
# target.
include "lib";
def codes: to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "none" else . end;
def yes: if . then "yes" else "**no**" end;
. as $r
| "Load: \($r.drills[0].rate)/s (\($r.mix)), "
  + (if $r.knee == null then "a rate given to scripts/drill.sh"
     elif $r.knee.knee_rate == null then "below the knee sweep's first step"
     else "half the knee of \($r.knee.knee_rate)/s measured at the start (p99 <= \($r.knee.slo_us / 1000 | fixed(0)) ms)" end)
  + "; \($r.machine.cpus) shared with other builds (load average \($r.machine.loadavg_at_start) at the start); \($r.date).",
  "",
  ([["drill", "answered OK", "errors by code", "degraded (by reason)", "INTERNAL (client / services)",
     "events acknowledged / logged / lost / logged twice", "unhealthy seconds before the first fault",
     "every target met"]]
   + [$r.drills[]
      | [.name,
         "\(.load.ok) of \(.load.scheduled)",
         (.load.errors_by_code | codes),
         "\(.load.degraded)\(if .load.degraded > 0 then " (\(.load.degraded_by_reason | codes))" else "" end)",
         "\(.internal_errors.client) / \(.internal_errors.server)",
         "\(.ingestion.acknowledged) / \(.ingestion.logged) / \(.ingestion.lost) / \(.ingestion.duplicated)",
         "\(.unhealthy_seconds_before) of \(.seconds_before)",
         (.pass | yes) + (if .pass then "" else " (" + (.targets | to_entries | map(select(.value | not) | .key) | join(", ")) + ")" end)]]
   | table)
