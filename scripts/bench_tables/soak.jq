# input: soak.json
# scripts/soak.sh: the stack under half the knee for N minutes, each
# process's resident memory after the warm-up, and the run's errors.
include "lib";
. as $r
| "\($r.minutes) minutes at \($r.rate)/s (\($r.mix)"
  + (if $r.knee.knee_rate then ", half the knee of \($r.knee.knee_rate)/s measured at the start" else "" end)
  + "), RSS sampled every \($r.sample_every_s) s, warm-up \($r.warmup_s) s, \($r.impressions_logged_after_warmup) impressions logged after it"
  + (if $r.feedback_retention then ", the training service's feedback retention \($r.feedback_retention) (\($r.feedback_impressions_held_at_end) impressions held at the end)" else "" end)
  + "; \($r.machine.cpus) shared with other builds; \($r.date). "
  + "\($r.load.ok) of \($r.load.scheduled) answered OK, \($r.load.errors) errors"
  + "\(if $r.load.errors > 0 then " (\($r.load.errors_by_code | to_entries | map("\(.key) \(.value)") | join(", ")))" else "" end)"
  + ", \($r.load.degraded) degraded; p50 \($r.load.p50_us / 1000 | sig) ms, p99 \($r.load.p99_us / 1000 | sig) ms; "
  + "INTERNAL from the services: \($r.internal_errors_server); events acknowledged / logged / lost / logged twice: "
  + "\($r.ingestion.acknowledged) / \($r.ingestion.logged) / \($r.ingestion.lost) / \($r.ingestion.duplicated). "
  + "Every target met: **\(if $r.pass then "yes" else "no (" + ($r.targets | to_entries | map(select(.value | not) | .key) | join(", ")) + ")" end)**.",
  "",
  ([["process", "RSS at start", "after the warm-up", "at the end", "largest after the warm-up", "growth (largest)",
     "MB per minute after the warm-up", "bytes per impression logged after it", "target"]]
   + [($r.rss | to_entries[]) as $e
      | $e.value
      | [$e.key, "\(.first_mb | sig) MB", "\(.at_warmup_mb | sig) MB", "\(.final_mb | sig) MB",
         "\(.peak_after_warmup_mb | sig) MB", "\(.peak_growth_pct | fixed(1))%",
         (.mb_per_minute_after_warmup | fixed(2)), (.bytes_per_impression_after_warmup | fixed(0)),
         (if .peak_growth_pct <= 10 then "<= 10%: met" else "<= 10%: **missed**" end)]]
   + [$r.redis | ["redis-server", "\(.first_mb | sig) MB", "\(.at_warmup_mb | sig) MB", "\(.final_mb | sig) MB",
                  "\(.peak_after_warmup_mb | sig) MB", "\(.peak_growth_pct | fixed(1))%",
                  (.mb_per_minute_after_warmup | fixed(2)), (.bytes_per_impression_after_warmup | fixed(0)),
                  "none: it holds the event log (\(.used_memory_mb | sig) MB used at the end)"]]
   | table),
  "",
  ([["minute", "answered OK", "errors", "degraded", "median / worst per-second p99"]]
   + [$r.per_minute[] | [(.minute | tostring), (.ok | tostring), (.errors | tostring), (.degraded | tostring),
                        "\(.median_p99_ms | sig) / \(.worst_p99_ms | sig) ms"]]
   | table)
