# input: loadtest_overload.json
# scripts/capacity.sh's overload run on the contended machine.
include "lib";
. as $r
| ($r.timeline | map(select(.rate == $r.rate))) as $over
| ($r.timeline | map(select(.rate != $r.rate))) as $after
| [["", ""],
   ["offered", "\($r.rate)/s for \($over | length) s, then \($after[0].rate // "n/a")/s for \($after | length) s"],
   ["answered OK", "\($r.ok) of \($r.count) (\($r.errors) errors; `UNAVAILABLE`: \($r.errors_by_code.UNAVAILABLE // 0))"],
   ["degraded", "\($r.degraded) (\($r.degraded_by_reason | to_entries | map("\(.key) \(.value)") | join(", ")))"],
   ["slowest answer", "\($r.max_us / 1000 | sig) ms"],
   ["p99 per second during the overload", "\($over | map(.p99_us) | min / 1000 | fixed(0))-\($over | map(.p99_us) | max / 1000 | fixed(0)) ms"],
   ["p99 per second after it", "\($after | map(.p99_us / 1000 | fixed(0)) | join(", ")) ms"]]
| table
