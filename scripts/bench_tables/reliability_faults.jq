# input: reliability.json
# scripts/drill.sh: each fault, p99 before, during and after it, and the
# time to recover (the rule is the JSON's recovery_rule).
include "lib";
def note($d):
  if .service then "stack.sh up had it healthy in \(.healthy_after_restart_ms / 1000 | fixed(1)) s"
  elif .appendfsync then "appendfsync \(.appendfsync); \(.keys_before) keys before the kill, \(.keys_after) after it; Redis answering again (its AOF loaded) \(.redis_answering_after_ms / 1000 | fixed(1)) s after the kill; everysec window: \($d.ingestion.everysec_window.acked_in_window) events acknowledged in the last second, \($d.ingestion.everysec_window.lost_in_window) lost"
  elif .to then "answers on \(.to) \(if .answers_on_it_after_ms == null then "never (10 s)" else "\(.answers_on_it_after_ms / 1000 | fixed(1)) s after the promote" end); \(.sampled_answers_on_it) of \(.sampled) sampled users on it"
  elif has("queue_full_after_ms") then "queue full \(if .queue_full_after_ms == null then "never" else "\(.queue_full_after_ms / 1000 | fixed(1)) s after the stop" end); \($d.impressions.dropped) impressions dropped, \($d.impressions.failed) failed to send; burst \($d.burst.ok) Recommends OK, \($d.burst.errors) errors"
  else "" end;
. as $r
| [["drill", "fault", "lasted", "errors / degraded during", "p99 before / during / after",
    "recovery", "unhealthy s after it", "notes"]]
  + [$r.drills[] as $d | $d.faults[]
     | [$d.name, .what, "\(.end_s - .start_s | fixed(1)) s",
        "\(.errors_during) / \(.degraded_during) of \(.answered_during + .errors_during)",
        "\($d.p99_before_ms | sig) / \(.p99_during_ms | sig) / \(.p99_after_ms | sig) ms",
        (if .recovery_s == null then "**none**" else "\(.recovery_s | fixed(1)) s" end),
        (.unhealthy_seconds_after_recovery | tostring),
        note($d)]]
| table
