# input: loadtest_overload_quiet.json
# scripts/capacity.sh's overload run on the quiet machine: 2x the knee,
# then half of it.
include "lib";
. as $r
| ($r.timeline | map(select(.rate == $r.rate))) as $over
| ($r.timeline | map(select(.rate != $r.rate))) as $after
| "2x the knee (\($r.rate)/s) for \($over | length) s, then \($after[0].rate // "n/a")/s: "
  + "\($r.ok) of \($r.count) answered OK, \($r.errors) errors, \($r.degraded) degraded, slowest "
  + "\($r.max_us / 1000 | sig) ms; p99 per second during it \($over | map(.p99_us) | min / 1000 | fixed(0))-"
  + "\($over | map(.p99_us) | max / 1000 | fixed(0)) ms, after it "
  + "\($after | map(.p99_us / 1000 | fixed(0)) | join(", ")) ms."
